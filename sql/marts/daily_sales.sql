-- reporting.daily_sales: one row per day x platform x shop x currency, days in the shop's
-- timezone. Orders count on their created date, refunds on their refund date. Test orders are
-- excluded. Cancelled orders are counted in `cancelled_orders` only: their sales and their
-- refunds are left out of every money column, so a cancellation never shows as revenue.
-- total_collected = total_price of the day's orders - money refunded that day.
-- A table, rebuilt after every load that changed data, so dashboards read it instantly.
-- Money is decimal(38, 4) and quantities bigint, declared (see orders.sql).
create table reporting.daily_sales as
with orders as (
    select * from reporting.orders where not is_test
),

refunds as (
    select * from reporting.refunds where not is_test and not is_cancelled
),

sales_per_day as (
    select
        order_date as day,
        platform,
        shop,
        currency,
        count(*) filter (where not is_cancelled) as orders,
        count(*) filter (where is_cancelled) as cancelled_orders,
        sum(gross_sales) filter (where not is_cancelled) as gross_sales,
        sum(discounts) filter (where not is_cancelled) as discounts,
        sum(tax) filter (where not is_cancelled) as tax,
        sum(shipping) filter (where not is_cancelled) as shipping,
        sum(total_price) filter (where not is_cancelled) as total_price
    from orders
    group by order_date, platform, shop, currency
),

refunds_per_day as (
    select
        refund_date as day,
        platform,
        shop,
        currency,
        sum(refunded_subtotal) as refunds,
        sum(amount) as refunded_amount
    from refunds
    group by refund_date, platform, shop, currency
),

final as (
    select
        -- grain
        day,
        platform,
        shop,
        currency,
        -- counts
        coalesce(s.orders, 0) as orders,
        coalesce(s.cancelled_orders, 0) as cancelled_orders,
        -- money
        cast(coalesce(s.gross_sales, 0) as decimal(38, 4)) as gross_sales,
        cast(coalesce(s.discounts, 0) as decimal(38, 4)) as discounts,
        cast(coalesce(r.refunds, 0) as decimal(38, 4)) as refunds,
        cast(
            coalesce(s.gross_sales, 0) - coalesce(s.discounts, 0) - coalesce(r.refunds, 0)
            as decimal(38, 4)
        ) as net_sales,
        cast(coalesce(s.tax, 0) as decimal(38, 4)) as tax,
        cast(coalesce(s.shipping, 0) as decimal(38, 4)) as shipping,
        cast(coalesce(s.total_price, 0) - coalesce(r.refunded_amount, 0) as decimal(38, 4)) as total_collected
    from sales_per_day as s
    full join refunds_per_day as r using (day, platform, shop, currency)
)

select * from final
