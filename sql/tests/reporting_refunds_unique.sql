-- The refunds mart keeps its grain: one row per refund.
-- (A check a mart: as one query, the five aggregated at once, beyond a load's memory.)
select 'refunds' as mart, count(*) as n
from reporting.refunds
group by platform, shop, refund_id
having count(*) > 1
