-- int_line_refunds: one row per order line that was refunded (refunds in int_refunds only, so
-- not those of deleted orders): the quantity and subtotal refunded of it.
create view reporting.int_line_refunds as
with refund_lines as (
    select * from reporting.stg_refund_lines
),

refunds as (
    select platform, shop, refund_id from reporting.int_refunds
),

final as (
    select
        -- ids
        l.platform,
        l.shop,
        l.order_id,
        l.line_id,
        -- quantities and money
        sum(l.quantity) as refunded_quantity,
        sum(l.subtotal) as refunded_subtotal
    from refund_lines as l
    where exists (
        select 1
        from refunds as r
        where r.platform = l.platform and r.shop = l.shop and r.refund_id = l.refund_id
    )
    group by l.platform, l.shop, l.order_id, l.line_id
)

select * from final
