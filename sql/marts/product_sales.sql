-- reporting.product_sales: one row per product x platform x shop x currency, over
-- non-test, non-cancelled orders and non-gift-card lines. title is the product's
-- alphabetically first line title (a product's lines may carry different titles over time).
-- refund_rate = refunded_quantity / quantity (share of units sold that came back).
-- A table, rebuilt after every load that changed data.
-- Money is decimal(38, 4) and quantities bigint, declared (see orders.sql).
create table reporting.product_sales as
with order_lines as (
    select * from reporting.order_lines
    where not is_test and not is_cancelled and not is_gift_card
),

final as (
    select
        -- grain
        platform,
        shop,
        currency,
        product_id,
        -- descriptive
        min(title) as title,
        -- quantities
        cast(sum(quantity) as bigint) as quantity,
        cast(sum(refunded_quantity) as bigint) as refunded_quantity,
        -- money
        cast(sum(gross_sales) as decimal(38, 4)) as gross_sales,
        cast(sum(refunded_subtotal) as decimal(38, 4)) as refunds,
        cast(sum(net_sales) as decimal(38, 4)) as net_sales,
        -- rates
        cast(1.0 * sum(refunded_quantity) / nullif(sum(quantity), 0) as decimal(10, 4))
            as refund_rate
    from order_lines
    group by platform, shop, currency, product_id
)

select * from final
