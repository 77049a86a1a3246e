-- stg_orders: one row per row of commerce.orders (deleted orders included, flagged).
-- Renames and casts only: money NULLs become 0 and flags NULLs false. Timestamps stay UTC; the
-- shop-local order date is added in int_orders, which knows the shop's timezone.
-- is_cancelled is the mappers' flag, so no platform's status words are needed here.
create view reporting.stg_orders as
with base as (
    select * from commerce.orders
),

fields as (
    select
        -- ids
        platform,
        shop,
        order_id,
        order_number,
        -- timestamps (UTC)
        created_at,
        cancelled_at,
        -- money
        currency,
        coalesce(subtotal_price, 0) as subtotal_price,
        coalesce(total_discounts, 0) as total_discounts,
        coalesce(total_shipping, 0) as total_shipping,
        coalesce(total_tax, 0) as total_tax,
        coalesce(total_price, 0) as total_price,
        -- flags
        coalesce(is_test, false) as is_test,
        coalesce(is_cancelled, false) as is_cancelled,
        coalesce(is_deleted, false) as is_deleted
    from base
)

select * from fields
