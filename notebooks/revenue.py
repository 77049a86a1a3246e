# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Revenue report
#
# Net sales across every shop platform, read from the `reporting` views that `shopduck load`
# refreshes after each load. Money is never added up across currencies: every chart and table
# is split by currency. Orders count on their creation date (UTC), refunds on their refund date;
# test orders and cancelled orders are left out (see `sql/marts/daily_sales.sql`).
#
# The warehouse is opened read-only: `SHOPDUCK_WAREHOUSE` names it, else `shopduck.duckdb` in
# this folder or the one above (where `uv run shopduck demo` writes it).

# %%
import matplotlib.pyplot as plt

from pipelines.report import find_warehouse, open_read_only

con = open_read_only(find_warehouse())

# %% [markdown]
# ## Daily net sales per platform and currency

# %%
daily = con.sql("""
    select day, platform || ' / ' || shop as source, currency, net_sales
    from reporting.daily_sales
    order by day
""").df()
currencies = sorted(daily["currency"].unique())
fig, axes = plt.subplots(len(currencies), 1, figsize=(10, 3 * len(currencies)), squeeze=False)
for ax, currency in zip(axes[:, 0], currencies, strict=True):
    frame = daily[daily["currency"] == currency].pivot_table(
        index="day", columns="source", values="net_sales", aggfunc="sum"
    )
    frame.astype(float).plot(ax=ax, marker=".", linewidth=1)
    ax.set_title(f"Daily net sales ({currency})")
    ax.set_xlabel("")
fig.tight_layout()

# %% [markdown]
# ## Monthly net sales, orders and average order value
#
# Average order value is what customers paid per order (`total_price`), over non-test,
# non-cancelled orders.

# %%
monthly = con.sql("""
    select date_trunc('month', order_date) as month, platform, currency,
        count(*) as orders,
        sum(net_sales) as net_sales,
        round(avg(total_price), 2) as average_order_value
    from reporting.orders
    where not is_test and not is_cancelled
    group by all
    order by month, platform, currency
""").df()
monthly

# %%
fig, axes = plt.subplots(1, len(currencies), figsize=(5 * len(currencies), 3.5), squeeze=False)
for ax, currency in zip(axes[0], currencies, strict=True):
    frame = monthly[monthly["currency"] == currency].pivot_table(
        index="month", columns="platform", values="average_order_value"
    )
    frame.astype(float).plot(ax=ax, kind="bar")
    ax.set_title(f"Average order value ({currency})")
    ax.set_xticklabels([m.strftime("%Y-%m") for m in frame.index], rotation=0)
fig.tight_layout()

# %% [markdown]
# ## Top products by net sales

# %%
top_products = con.sql("""
    select platform, currency, title, quantity, gross_sales, net_sales
    from reporting.product_sales
    qualify row_number() over (partition by platform, currency order by net_sales desc) <= 3
    order by platform, currency, net_sales desc
""").df()
top_products

# %% [markdown]
# ## Discount impact
#
# Discounts as a share of gross sales, per platform and currency. MerchantPro sends coupon codes
# without amounts, so its discounts show as zero.

# %%
discounts = con.sql("""
    select platform, currency,
        sum(gross_sales) as gross_sales, sum(discounts) as discounts,
        round(sum(discounts) / nullif(sum(gross_sales), 0), 4) as discount_share
    from reporting.daily_sales
    group by all
    order by platform, currency
""").df()
ax = (
    discounts.set_index(["platform", "currency"])["discount_share"]
    .astype(float)
    .plot(kind="barh", figsize=(8, 4), title="Discounts / gross sales")
)
ax.set_xlabel("share of gross sales")
discounts
