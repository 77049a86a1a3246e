-- reporting.refunds: one row per refund of an order in reporting.orders, dated by the refund
-- in its shop's timezone, with its order's date (same calendar) and the days between them.
-- amount = money returned to the customer; refunded_subtotal = refunded line subtotal (the
-- figure daily_sales subtracts from sales).
-- Money is decimal(38, 4) and quantities bigint, declared (see orders.sql).
create view reporting.refunds as
with refunds as (
    select * from reporting.int_refunds
),

orders as (
    select * from reporting.int_orders
),

final as (
    select
        -- ids
        r.platform,
        r.shop,
        r.refund_id,
        r.order_id,
        -- dates
        r.refund_date,
        o.order_date,
        r.refund_date - o.order_date as days_to_refund,
        -- money
        o.currency,
        cast(r.amount as decimal(38, 4)) as amount,
        cast(r.refunded_subtotal as decimal(38, 4)) as refunded_subtotal,
        -- quantities
        cast(r.refunded_quantity as bigint) as refunded_quantity,
        -- flags
        r.is_derived,
        r.restock,
        o.is_cancelled,
        o.is_test
    from refunds as r
    join orders as o
        on o.platform = r.platform and o.shop = r.shop and o.order_id = r.order_id
)

select * from final
