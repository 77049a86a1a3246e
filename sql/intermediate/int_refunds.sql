-- int_refunds: one row per refund of an order in int_orders (so: not deleted), dated by the
-- refund in its shop's timezone, with what it refunded: the subtotal and quantity of its refund
-- lines. A refund without lines (Spiffy's refunds derived from transactions) counts its amount
-- as refunded subtotal, since nothing more precise exists.
create view reporting.int_refunds as
with refunds as (
    select * from reporting.stg_refunds
),

orders as (
    select platform, shop, order_id, timezone from reporting.int_orders
),

refund_lines as (
    select * from reporting.stg_refund_lines
),

line_totals as (
    select
        platform,
        shop,
        refund_id,
        sum(subtotal) as refunded_subtotal,
        sum(quantity) as refunded_quantity,
        count(*) as refund_line_count
    from refund_lines
    group by platform, shop, refund_id
),

final as (
    select
        -- ids
        r.platform,
        r.shop,
        r.refund_id,
        r.order_id,
        -- dates
        r.created_at,
        cast(r.created_at at time zone o.timezone as date) as refund_date,
        -- money
        r.amount,
        coalesce(t.refunded_subtotal, r.amount) as refunded_subtotal,
        -- quantities
        coalesce(t.refunded_quantity, 0) as refunded_quantity,
        coalesce(t.refund_line_count, 0) as refund_line_count,
        -- flags
        r.is_derived,
        r.restock
    from refunds as r
    -- int_orders has one row per order, so this join keeps one row per refund
    join orders as o
        on o.platform = r.platform and o.shop = r.shop and o.order_id = r.order_id
    left join line_totals as t
        on t.platform = r.platform and t.shop = r.shop and t.refund_id = r.refund_id
)

select * from final
