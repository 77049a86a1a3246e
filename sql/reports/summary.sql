-- The report's summary: one row per platform x shop x currency, revenue and refunds over the
-- shop-local days [since, until] (either may be NULL: no bound).
-- refund_rate = refunds / gross_sales.
with days as (
    select * from reporting.daily_sales
    where day >= coalesce(cast($since as date), date '0001-01-01')
        and day <= coalesce(cast($until as date), date '9999-12-31')
),

final as (
    select
        -- grain
        platform,
        shop,
        currency,
        -- counts
        cast(sum(orders) as bigint) as orders,
        -- money
        sum(gross_sales) as gross_sales,
        sum(discounts) as discounts,
        sum(refunds) as refunds,
        sum(net_sales) as net_sales,
        -- rates
        cast(sum(refunds) / nullif(sum(gross_sales), 0) as decimal(10, 4)) as refund_rate
    from days
    group by platform, shop, currency
)

select * from final
order by platform, shop, currency
