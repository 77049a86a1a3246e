-- The report's most refunded products: the three products with the largest refunded line
-- subtotal per platform x shop x currency, over refunds dated (shop-local) in
-- [since, until] (either may be NULL: no bound), test and cancelled orders left out. Ties go
-- to the smaller product_id, so both engines pick the same three.
with refunds as (
    select * from reporting.refunds
    where not is_test and not is_cancelled
        and refund_date >= coalesce(cast($since as date), date '0001-01-01')
        and refund_date <= coalesce(cast($until as date), date '9999-12-31')
),

refund_lines as (
    select * from reporting.stg_refund_lines
),

order_lines as (
    select * from reporting.stg_order_lines
),

per_product as (
    select
        r.platform,
        r.shop,
        r.currency,
        l.product_id,
        min(l.title) as title,
        cast(sum(rl.quantity) as bigint) as refunded_quantity,
        sum(rl.subtotal) as refunds
    from refunds as r
    join refund_lines as rl
        on rl.platform = r.platform and rl.shop = r.shop and rl.refund_id = r.refund_id
    join order_lines as l
        on l.platform = rl.platform and l.shop = rl.shop and l.order_id = rl.order_id
        and l.line_id = rl.line_id
    group by r.platform, r.shop, r.currency, l.product_id
),

ranked as (
    select
        *,
        row_number() over (
            partition by platform, shop, currency order by refunds desc, product_id
        ) as refund_rank
    from per_product
)

select platform, shop, currency, product_id, title, refunded_quantity, refunds
from ranked
where refund_rank <= 3
order by platform, shop, currency, refunds desc, product_id
