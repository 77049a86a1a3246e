-- The order_lines mart keeps its grain: one row per order line.
-- (A check a mart: as one query, the five aggregated at once, beyond a load's memory.)
select 'order_lines' as mart, count(*) as n
from reporting.order_lines
group by platform, shop, order_id, line_id
having count(*) > 1
