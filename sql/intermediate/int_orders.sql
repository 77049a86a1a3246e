-- int_orders: one row per order the platform still returns (deleted orders left out), with
-- its shop's timezone and order_date, the calendar day of created_at in that timezone (a shop
-- missing from commerce.shops counts as UTC).
create view reporting.int_orders as
with orders as (
    select * from reporting.stg_orders where not is_deleted
),

shops as (
    select * from reporting.stg_shops
),

with_timezone as (
    select
        o.*,
        coalesce(s.timezone, 'UTC') as timezone
    from orders as o
    left join shops as s
        on s.platform = o.platform and s.shop = o.shop
),

final as (
    select
        *,
        cast(created_at at time zone timezone as date) as order_date
    from with_timezone
)

select * from final
