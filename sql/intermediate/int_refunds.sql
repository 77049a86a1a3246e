-- int_refunds: one row per refund with what it refunded: the subtotal and quantity of its
-- refund lines. A refund without lines (Spiffy's refunds derived from transactions) counts its
-- amount as refunded subtotal, since nothing more precise exists.
create or replace view reporting.int_refunds as
with line_totals as (
    select platform, shop, refund_id,
        sum(coalesce(subtotal, 0)) as refunded_subtotal,
        sum(coalesce(quantity, 0)) as refunded_quantity,
        count(*) as refund_line_count
    from commerce.refund_lines
    group by all
)

select
    r.*,
    coalesce(t.refunded_subtotal, r.amount) as refunded_subtotal,
    coalesce(t.refunded_quantity, 0) as refunded_quantity,
    coalesce(t.refund_line_count, 0) as refund_line_count
from reporting.stg_refunds as r
left join line_totals as t using (platform, shop, refund_id)
