-- Every child row belongs to an order in commerce.orders.
with children as (
    select 'order_lines' as tbl, platform, shop, order_id from commerce.order_lines
    union all select 'refunds', platform, shop, order_id from commerce.refunds
    union all select 'refund_lines', platform, shop, order_id from commerce.refund_lines
    union all select 'transactions', platform, shop, order_id from commerce.transactions
    union all select 'tax_lines', platform, shop, order_id from commerce.tax_lines
    union all select 'discounts', platform, shop, order_id from commerce.discounts
    union all select 'shipping_lines', platform, shop, order_id from commerce.shipping_lines
    union all select 'fulfillments', platform, shop, order_id from commerce.fulfillments
    union all
    select 'order_status_history', platform, shop, order_id from commerce.order_status_history
    union all select 'raw_orders', platform, shop, order_id from commerce.raw_orders
)

select c.*
from children as c
where not exists (
    select 1
    from commerce.orders as o
    where o.platform = c.platform and o.shop = c.shop and o.order_id = c.order_id
)
