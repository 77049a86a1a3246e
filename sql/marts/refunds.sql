-- reporting.refunds: one row per refund, dated by the refund (UTC), with its order's date.
-- amount = money returned to the customer; refunded_subtotal = refunded line subtotal (the
-- figure daily_sales subtracts from sales).
create or replace view reporting.refunds as
select
    -- ids
    r.platform, r.shop, r.refund_id, r.order_id,
    -- dates
    r.refund_date, o.order_date, r.refund_date - o.order_date as days_to_refund,
    -- money
    o.currency, r.amount, r.refunded_subtotal,
    -- quantities and flags
    r.refunded_quantity, r.is_derived, r.restock, o.is_cancelled, o.is_test
from reporting.int_refunds as r
join reporting.stg_orders as o using (platform, shop, order_id)
