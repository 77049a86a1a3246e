-- stg_refunds: one row per refund of a non-deleted order, dated by the refund (UTC).
create or replace view reporting.stg_refunds as
select
    -- ids
    r.platform, r.shop, r.refund_id, r.order_id,
    -- dates
    r.created_at, cast(timezone('UTC', r.created_at) as date) as refund_date,
    -- money and flags
    coalesce(r.amount, 0) as amount,
    coalesce(r.is_derived, false) as is_derived,
    r.restock
from commerce.refunds as r
semi join reporting.stg_orders as o using (platform, shop, order_id)
