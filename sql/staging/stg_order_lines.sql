-- stg_order_lines: one row per row of commerce.order_lines, with its gross amount.
-- gross_sales = unit_price x quantity, zero for gift cards (selling a gift card is not revenue).
create view reporting.stg_order_lines as
with base as (
    select * from commerce.order_lines
),

fields as (
    select
        -- ids
        platform,
        shop,
        order_id,
        line_id,
        product_id,
        variant_id,
        sku,
        -- descriptive
        title,
        variant_title,
        -- quantities and money
        coalesce(quantity, 0) as quantity,
        coalesce(unit_price, 0) as unit_price,
        coalesce(total_discount, 0) as discount,
        case
            when coalesce(is_gift_card, false) then 0
            else coalesce(unit_price, 0) * coalesce(quantity, 0)
        end as gross_sales,
        -- flags
        coalesce(is_gift_card, false) as is_gift_card
    from base
)

select * from fields
