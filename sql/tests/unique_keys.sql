-- Every commerce table is unique on its contract key.
select 'orders' as tbl, count(*) as n from commerce.orders group by platform, shop, order_id having count(*) > 1
union all select 'order_lines', count(*) from commerce.order_lines group by platform, shop, order_id, line_id having count(*) > 1
union all select 'refunds', count(*) from commerce.refunds group by platform, shop, refund_id having count(*) > 1
union all select 'refund_lines', count(*) from commerce.refund_lines group by platform, shop, refund_id, refund_line_id having count(*) > 1
union all select 'transactions', count(*) from commerce.transactions group by platform, shop, transaction_id having count(*) > 1
union all select 'tax_lines', count(*) from commerce.tax_lines group by platform, shop, order_id, scope, line_id, position having count(*) > 1
union all select 'discounts', count(*) from commerce.discounts group by platform, shop, order_id, position having count(*) > 1
union all select 'shipping_lines', count(*) from commerce.shipping_lines group by platform, shop, order_id, position having count(*) > 1
union all select 'fulfillments', count(*) from commerce.fulfillments group by platform, shop, fulfillment_id having count(*) > 1
union all select 'order_status_history', count(*) from commerce.order_status_history group by platform, shop, order_id, position having count(*) > 1
union all select 'raw_orders', count(*) from commerce.raw_orders group by platform, shop, order_id having count(*) > 1
