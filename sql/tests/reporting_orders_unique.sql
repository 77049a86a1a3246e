-- The reporting marts keep their grain: one row per order, per line, per refund, per day.
select 'orders' as mart, count(*) as n
from reporting.orders
group by platform, shop, order_id
having count(*) > 1
union all
select 'order_lines', count(*)
from reporting.order_lines
group by platform, shop, order_id, line_id
having count(*) > 1
union all
select 'refunds', count(*)
from reporting.refunds
group by platform, shop, refund_id
having count(*) > 1
union all
select 'daily_sales', count(*)
from reporting.daily_sales
group by day, platform, shop, currency
having count(*) > 1
union all
select 'product_sales', count(*)
from reporting.product_sales
group by platform, shop, currency, product_id
having count(*) > 1
