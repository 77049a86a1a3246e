-- Per order, the tax lines add up to total_tax within one minor unit. Order-scope lines are
-- the order's breakdown where the platform sends them; otherwise line and shipping lines are.
with sums as (
    select
        platform,
        shop,
        order_id,
        sum(amount) filter (where scope = 'order') as order_scope,
        sum(amount) filter (where scope <> 'order') as detail_scope,
        count(*) filter (where scope = 'order') as order_lines
    from commerce.tax_lines
    group by platform, shop, order_id
)

select o.platform, o.shop, o.order_id, o.total_tax, s.order_scope, s.detail_scope
from commerce.orders as o
left join sums as s
    on s.platform = o.platform and s.shop = o.shop and s.order_id = o.order_id
where abs(
    coalesce(o.total_tax, 0)
    - coalesce(case when s.order_lines > 0 then s.order_scope else s.detail_scope end, 0)
) > 0.01
