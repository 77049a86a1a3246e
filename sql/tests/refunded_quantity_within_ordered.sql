-- No line is refunded more units than were ordered, and every refund line points at a line.
select rl.platform, rl.shop, rl.order_id, rl.line_id,
    sum(rl.quantity) as refunded, any_value(l.quantity) as ordered
from commerce.refund_lines as rl
left join commerce.order_lines as l using (platform, shop, order_id, line_id)
group by all
having any_value(l.quantity) is null or sum(rl.quantity) > any_value(l.quantity)
