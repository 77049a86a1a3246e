-- The product_sales mart keeps its grain: one row per product, shop and currency.
-- (A check a mart: as one query, the five aggregated at once, beyond a load's memory.)
select 'product_sales' as mart, count(*) as n
from reporting.product_sales
group by platform, shop, currency, product_id
having count(*) > 1
