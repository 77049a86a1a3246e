-- stg_refunds: one row per row of commerce.refunds. Timestamps stay UTC; the shop-local refund
-- date is added in int_refunds.
create view reporting.stg_refunds as
with base as (
    select * from commerce.refunds
),

fields as (
    select
        -- ids
        platform,
        shop,
        refund_id,
        order_id,
        -- timestamps (UTC)
        created_at,
        -- money
        coalesce(amount, 0) as amount,
        -- flags
        coalesce(is_derived, false) as is_derived,
        restock
    from base
)

select * from fields
