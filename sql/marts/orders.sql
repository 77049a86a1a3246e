-- reporting.orders: one row per order (deleted orders excluded), dated by its creation in its
-- shop's timezone. gross_sales = sum(unit_price x quantity) over non-gift-card lines;
-- discounts = the order's total discounts; refunds = refunded line subtotal of all its refunds,
-- whatever their date; net_sales = gross_sales - discounts - refunds. Money is in the order's
-- currency.
-- Money is cast to decimal(38, 4) and quantities to bigint: Postgres leaves the type of a
-- sum or a difference open, and readers such as DuckDB's postgres scanner take that as DOUBLE.
create view reporting.orders as
with orders as (
    select * from reporting.int_orders
),

order_lines as (
    select * from reporting.stg_order_lines
),

refunds as (
    select * from reporting.int_refunds
),

line_totals as (
    select
        platform,
        shop,
        order_id,
        sum(gross_sales) as gross_sales,
        count(*) as line_count,
        sum(quantity) as item_quantity
    from order_lines
    group by platform, shop, order_id
),

refund_totals as (
    select
        platform,
        shop,
        order_id,
        sum(refunded_subtotal) as refunds,
        sum(refunded_quantity) as refunded_quantity
    from refunds
    group by platform, shop, order_id
),

final as (
    select
        -- ids
        o.platform,
        o.shop,
        o.order_id,
        o.order_number,
        -- dates
        o.order_date,
        o.created_at,
        -- money
        o.currency,
        cast(coalesce(l.gross_sales, 0) as decimal(38, 4)) as gross_sales,
        cast(o.total_discounts as decimal(38, 4)) as discounts,
        cast(coalesce(r.refunds, 0) as decimal(38, 4)) as refunds,
        cast(
            coalesce(l.gross_sales, 0) - o.total_discounts - coalesce(r.refunds, 0)
            as decimal(38, 4)
        ) as net_sales,
        cast(o.total_tax as decimal(38, 4)) as tax,
        cast(o.total_shipping as decimal(38, 4)) as shipping,
        cast(o.total_price as decimal(38, 4)) as total_price,
        -- quantities
        coalesce(l.line_count, 0) as line_count,
        cast(coalesce(l.item_quantity, 0) as bigint) as item_quantity,
        cast(coalesce(r.refunded_quantity, 0) as bigint) as refunded_quantity,
        -- flags
        o.is_cancelled,
        o.is_test
    from orders as o
    left join line_totals as l
        on l.platform = o.platform and l.shop = o.shop and l.order_id = o.order_id
    left join refund_totals as r
        on r.platform = o.platform and r.shop = o.shop and r.order_id = o.order_id
)

select * from final
