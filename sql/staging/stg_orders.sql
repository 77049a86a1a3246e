-- stg_orders: one row per order that the platform still returns (deleted orders excluded).
-- Adds the order's UTC date and an explicit cancellation flag: cancelled_at is set, or a
-- platform status says so (Haravan/Spiffy `voided`, MerchantPro `canceled`/`cancelled`,
-- Lunasoft status `cancelled`).
create or replace view reporting.stg_orders as
with base as (
    select * from commerce.orders where not coalesce(is_deleted, false)
),

fields as (
    select
        -- ids
        platform, shop, order_id, order_number,
        -- dates (UTC)
        created_at, cast(timezone('UTC', created_at) as date) as order_date, cancelled_at,
        -- money
        currency,
        coalesce(subtotal_price, 0) as subtotal_price,
        coalesce(total_discounts, 0) as total_discounts,
        coalesce(total_shipping, 0) as total_shipping,
        coalesce(total_tax, 0) as total_tax,
        coalesce(total_price, 0) as total_price,
        -- flags
        coalesce(is_test, false) as is_test,
        coalesce(
            cancelled_at is not null
            or financial_status in ('voided', 'canceled', 'cancelled')
            or fulfillment_status = 'cancelled'
            or order_status = 'cancelled',
            false
        ) as is_cancelled
    from base
)

select * from fields
