-- reporting.product_sales: one row per product x platform x shop x currency, over
-- non-test, non-cancelled orders and non-gift-card lines.
-- refund_rate = refunded_quantity / quantity (share of units sold that came back).
-- A table, rebuilt after every load that changed data.
create or replace table reporting.product_sales as
select
    platform, shop, currency, product_id,
    any_value(title) as title,
    sum(quantity) as quantity,
    sum(refunded_quantity) as refunded_quantity,
    sum(gross_sales) as gross_sales,
    sum(refunded_subtotal) as refunds,
    sum(net_sales) as net_sales,
    round(sum(refunded_quantity) / nullif(sum(quantity), 0), 4) as refund_rate
from reporting.order_lines
where not is_test and not is_cancelled and not is_gift_card
group by all
