-- The orders mart keeps its grain: one row per order.
-- (A check a mart: as one query, the five aggregated at once, beyond a load's memory.)
select 'orders' as mart, count(*) as n
from reporting.orders
group by platform, shop, order_id
having count(*) > 1
