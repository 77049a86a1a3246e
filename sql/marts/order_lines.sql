-- reporting.order_lines: one row per order line, with what was refunded of it.
-- net_sales = gross_sales - discount - refunded_subtotal.
create or replace view reporting.order_lines as
select
    -- ids
    l.platform, l.shop, l.order_id, l.line_id, l.product_id, l.variant_id, l.sku,
    l.title, l.variant_title,
    -- order context
    o.order_date, o.currency, o.is_cancelled, o.is_test, l.is_gift_card,
    -- quantities
    l.quantity,
    coalesce(r.refunded_quantity, 0) as refunded_quantity,
    -- money
    l.unit_price, l.gross_sales, l.discount,
    coalesce(r.refunded_subtotal, 0) as refunded_subtotal,
    l.gross_sales - l.discount - coalesce(r.refunded_subtotal, 0) as net_sales
from reporting.stg_order_lines as l
join reporting.stg_orders as o using (platform, shop, order_id)
left join reporting.int_line_refunds as r using (platform, shop, order_id, line_id)
