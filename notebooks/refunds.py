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
# # Refund report
#
# How much money goes back to customers, how fast, for which products, and whether the goods
# come back to stock. Refunds count on their refund date (UTC), whenever the order was placed.
# Some platforms have no refund records: MerchantPro and Lunasoft refunds are derived full
# refunds and Spiffy refunds come from refund transactions (`is_derived`); Spiffy refunds carry
# no lines, so they have no product or quantity.
#
# The warehouse is opened read-only: `SHOPDUCK_WAREHOUSE` names it, else `shopduck.duckdb` in
# this folder or the one above.

# %%
import matplotlib.pyplot as plt

from pipelines.report import find_warehouse, open_read_only

con = open_read_only(find_warehouse())

# %% [markdown]
# ## Refunds and refund rate over time
#
# Refund rate = refunded line subtotal / gross sales of the same week, per currency.

# %%
weekly = con.sql("""
    select date_trunc('week', day) as week, currency,
        sum(refunds) as refunds, sum(gross_sales) as gross_sales,
        round(sum(refunds) / nullif(sum(gross_sales), 0), 4) as refund_rate
    from reporting.daily_sales
    group by all
    order by week
""").df()
currencies = sorted(weekly["currency"].unique())
fig, axes = plt.subplots(len(currencies), 1, figsize=(10, 2.8 * len(currencies)), squeeze=False)
for ax, currency in zip(axes[:, 0], currencies, strict=True):
    frame = weekly[weekly["currency"] == currency].set_index("week")
    frame["refunds"].astype(float).plot(ax=ax, kind="bar", color="tab:red", label="refunds")
    ax.set_title(f"Weekly refunds ({currency})")
    ax.set_xticklabels([w.strftime("%m-%d") for w in frame.index], rotation=90)
fig.tight_layout()

# %% [markdown]
# ## By platform

# %%
by_platform = con.sql("""
    select platform, currency, count(*) as refunds, sum(amount) as amount_returned,
        sum(refunded_subtotal) as refunded_subtotal, count(*) filter (where is_derived) as derived
    from reporting.refunds
    where not is_test
    group by all
    order by platform, currency
""").df()
by_platform

# %% [markdown]
# ## By product: refund rate in units

# %%
products = con.sql("""
    select platform, currency, title, quantity, refunded_quantity, refund_rate
    from reporting.product_sales
    where quantity >= 5
    order by refund_rate desc
    limit 12
""").df()
ax = (
    products.set_index(["platform", "title"])["refund_rate"]
    .astype(float)
    .plot(kind="barh", figsize=(8, 5), title="Share of units refunded")
)
products

# %% [markdown]
# ## Days from order to refund

# %%
delays = con.sql("select days_to_refund from reporting.refunds where not is_test").df()
ax = delays["days_to_refund"].plot(
    kind="hist", bins=20, figsize=(8, 3.5), title="Days from order to refund"
)
ax.set_xlabel("days")
delays["days_to_refund"].describe()

# %% [markdown]
# ## Restocked or not
#
# `restock` is only known where the platform records it (Haravan, FlickRocket); derived refunds
# show as unknown.

# %%
restock = con.sql("""
    select case when restock is null then 'unknown'
                when restock then 'restocked' else 'not restocked' end as restock,
        currency, count(*) as refunds, sum(amount) as amount_returned
    from reporting.refunds
    where not is_test
    group by all
    order by currency, restock
""").df()
restock.pivot_table(index="restock", columns="currency", values="refunds", aggfunc="sum").plot(
    kind="bar", figsize=(7, 3.5), title="Refunds by restock", rot=0
)
restock
