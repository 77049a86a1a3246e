-- daily_sales adds up to the orders and refunds it covers, per platform, shop and currency.
with from_daily as (
    select
        platform,
        shop,
        currency,
        sum(orders) as orders,
        sum(gross_sales) as gross_sales,
        sum(discounts) as discounts,
        sum(refunds) as refunds,
        sum(net_sales) as net_sales
    from reporting.daily_sales
    group by platform, shop, currency
),

from_orders as (
    select
        platform,
        shop,
        currency,
        count(*) as orders,
        sum(gross_sales) as gross_sales,
        sum(discounts) as discounts,
        sum(refunds) as refunds,
        sum(net_sales) as net_sales
    from reporting.orders
    where not is_test and not is_cancelled
    group by platform, shop, currency
)

select *
from from_daily as d
full join from_orders as o using (platform, shop, currency)
where d.orders is distinct from o.orders
    or d.gross_sales is distinct from o.gross_sales
    or d.discounts is distinct from o.discounts
    or d.refunds is distinct from o.refunds
    or d.net_sales is distinct from o.net_sales
