-- stg_shops: one row per row of commerce.shops (written by the loader from each shop's
-- configuration): the shop's calendar for reporting days, an IANA timezone name.
create view reporting.stg_shops as
with base as (
    select * from commerce.shops
),

fields as (
    select
        -- ids
        platform,
        shop,
        -- settings
        coalesce(nullif(timezone, ''), 'UTC') as timezone
    from base
)

select * from fields
