-- int_line_refunds: one row per order line that was refunded: quantity and subtotal refunded.
create or replace view reporting.int_line_refunds as
select
    rl.platform, rl.shop, rl.order_id, rl.line_id,
    sum(coalesce(rl.quantity, 0)) as refunded_quantity,
    sum(coalesce(rl.subtotal, 0)) as refunded_subtotal
from commerce.refund_lines as rl
semi join reporting.stg_refunds as r using (platform, shop, refund_id)
group by all
