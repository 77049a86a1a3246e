-- The daily_sales mart keeps its grain: one row per day, shop and currency.
-- (A check a mart: as one query, the five aggregated at once, beyond a load's memory.)
select 'daily_sales' as mart, count(*) as n
from reporting.daily_sales
group by day, platform, shop, currency
having count(*) > 1
