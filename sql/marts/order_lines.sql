-- reporting.order_lines: one row per line of an order in reporting.orders, with what was
-- refunded of it. net_sales = gross_sales - discount - refunded_subtotal.
-- Money is decimal(38, 4) and quantities bigint, declared (see orders.sql).
create view reporting.order_lines as
with order_lines as (
    select * from reporting.stg_order_lines
),

orders as (
    select * from reporting.int_orders
),

line_refunds as (
    select * from reporting.int_line_refunds
),

final as (
    select
        -- ids
        l.platform,
        l.shop,
        l.order_id,
        l.line_id,
        l.product_id,
        l.variant_id,
        l.sku,
        -- descriptive
        l.title,
        l.variant_title,
        -- order context
        o.order_date,
        o.currency,
        o.is_cancelled,
        o.is_test,
        l.is_gift_card,
        -- quantities
        l.quantity,
        cast(coalesce(r.refunded_quantity, 0) as bigint) as refunded_quantity,
        -- money
        cast(l.unit_price as decimal(38, 4)) as unit_price,
        cast(l.gross_sales as decimal(38, 4)) as gross_sales,
        cast(l.discount as decimal(38, 4)) as discount,
        cast(coalesce(r.refunded_subtotal, 0) as decimal(38, 4)) as refunded_subtotal,
        cast(l.gross_sales - l.discount - coalesce(r.refunded_subtotal, 0) as decimal(38, 4)) as net_sales
    from order_lines as l
    join orders as o
        on o.platform = l.platform and o.shop = l.shop and o.order_id = l.order_id
    left join line_refunds as r
        on r.platform = l.platform and r.shop = l.shop and r.order_id = l.order_id
        and r.line_id = l.line_id
)

select * from final
