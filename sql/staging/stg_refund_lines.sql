-- stg_refund_lines: one row per row of commerce.refund_lines: the order line a refund line
-- returns, and how many units and how much line subtotal it returns.
create view reporting.stg_refund_lines as
with base as (
    select * from commerce.refund_lines
),

fields as (
    select
        -- ids
        platform,
        shop,
        refund_id,
        refund_line_id,
        order_id,
        line_id,
        -- quantities and money
        coalesce(quantity, 0) as quantity,
        coalesce(subtotal, 0) as subtotal
    from base
)

select * from fields
