-- No line is refunded more units than were ordered, and every refund line points at a line.
with refunded as (
    select platform, shop, order_id, line_id, sum(quantity) as refunded
    from commerce.refund_lines
    group by platform, shop, order_id, line_id
)

select r.platform, r.shop, r.order_id, r.line_id, r.refunded, l.quantity as ordered
from refunded as r
left join commerce.order_lines as l
    on l.platform = r.platform and l.shop = r.shop and l.order_id = r.order_id
    and l.line_id = r.line_id
where l.quantity is null or r.refunded > l.quantity
