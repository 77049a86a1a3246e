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
#   title: Refund report
# ---

# %% [markdown]
# # Refund report
#
# How much money goes back to customers, how fast, for which products, and whether the goods
# come back to stock. A refund counts on the shop's local day it was made (the shop's
# `TIMEZONE` setting, UTC unless set), whenever the order was placed. Money stays in its own
# currency: no number adds two currencies together.
#
# Some platforms have no refund records: MerchantPro and Lunasoft refunds are derived full
# refunds and Spiffy refunds come from refund transactions (`is_derived`); Spiffy refunds carry
# no lines, so they have no product or quantity.
#
# The first week usually starts partway through, and the latest one is still running: the
# charts draw these partial weeks hatched, so their bars are not read as a drop or a surge.
#
# The warehouse is opened read-only: the Postgres warehouse when `SHOPDUCK__DESTINATION=postgres`
# (attached to DuckDB), else the file `SHOPDUCK_WAREHOUSE` names, else `shopduck.duckdb` in this
# folder or the one above.

# %%
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator, MultipleLocator, PercentFormatter

from pipelines.charts import PARTIAL, THOUSANDS, Span, date_axis, show, use_style
from pipelines.report import find_warehouse, open_read_only

con = open_read_only(find_warehouse())
[(first_day, last_day)] = con.execute(
    "select min(day), max(day) from reporting.daily_sales"
).fetchall()
span = Span(first_day, last_day)
use_style()


def week_bars(ax: plt.Axes, frame: pd.DataFrame, column: str, color: str) -> None:
    """One bar per week, Monday to Sunday; partial weeks hatched."""
    for is_partial, style in ((False, {}), (True, PARTIAL)):
        chosen = frame[frame["partial"] == is_partial]
        ax.bar(
            chosen["week"],
            chosen[column],
            width=pd.Timedelta(days=6),
            align="edge",
            color=color,
            **style,
        )
    ax.grid(axis="x", visible=False)


span.describe()

# %% [markdown]
# ## Weekly refunds
#
# Refunded line subtotal per week, Monday to Sunday (a refund without lines counts its amount),
# one panel per currency.

# %%
weekly = con.sql("""
    select date_trunc('week', day) as week, currency,
        sum(refunds) as refunds, sum(gross_sales) as gross_sales
    from reporting.daily_sales
    group by all
    order by week
""").df()
weekly["partial"] = span.partial(weekly["week"], "W")
weekly["refund_rate"] = weekly["refunds"] / weekly["gross_sales"].where(weekly["gross_sales"] > 0)
currencies = sorted(weekly["currency"].unique())

fig, axes = plt.subplots(
    len(currencies),
    1,
    figsize=(10, 2 * len(currencies) + 0.8),
    sharex=True,
    layout="constrained",
    squeeze=False,
)
fig.suptitle("Weekly refunds")
for ax, currency in zip(axes[:, 0], currencies, strict=True):
    week_bars(ax, weekly[weekly["currency"] == currency], "refunds", "tab:red")
    ax.set_title(currency, loc="left", fontweight="bold")
    ax.set_ylabel(f"refunded ({currency})")
    ax.yaxis.set_major_formatter(THOUSANDS)
date_axis(axes[-1, 0])
axes[-1, 0].set_xlabel("week of the refund (the shop's local days)")
fig.legend(
    handles=[
        Patch(color="tab:red", label="refunded in the week"),
        Patch(facecolor="tab:red", label="partial week", **PARTIAL),
    ],
    loc="outside lower center",
    ncols=2,
)
show(fig)

# %% [markdown]
# ## Weekly refund rate
#
# Refund rate = money refunded in a week / gross sales of orders placed in the same week, per
# currency. The refunds of a week mostly belong to orders of earlier weeks, so a quiet week of
# sales with a few large refunds shows a high rate; read the trend, not one week.

# %%
overall = weekly.groupby("currency")[["refunds", "gross_sales"]].sum()
fig, axes = plt.subplots(
    len(currencies),
    1,
    figsize=(10, 1.8 * len(currencies) + 0.8),
    sharex=True,
    layout="constrained",
    squeeze=False,
)
fig.suptitle("Weekly refund rate")
for ax, currency in zip(axes[:, 0], currencies, strict=True):
    week_bars(ax, weekly[weekly["currency"] == currency], "refund_rate", "tab:purple")
    whole = overall.loc[currency, "refunds"] / overall.loc[currency, "gross_sales"]
    ax.axhline(whole, color="0.2", linestyle="--", linewidth=1)
    ax.annotate(
        f"whole period {whole:.1%}",
        (0, whole),
        xycoords=("axes fraction", "data"),
        xytext=(4, 3),
        textcoords="offset points",
        fontsize=8,
    )
    ax.set_title(currency, loc="left", fontweight="bold")
    ax.set_ylabel("refund rate")
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
date_axis(axes[-1, 0])
axes[-1, 0].set_xlabel("week (the shop's local days)")
fig.legend(
    handles=[
        Patch(color="tab:purple", label="refunded / gross sales of the week"),
        Patch(facecolor="tab:purple", label="partial week", **PARTIAL),
    ],
    loc="outside lower center",
    ncols=2,
)
show(fig)

# %% [markdown]
# ## By platform
#
# "Amount returned" is the money paid back, "refunded subtotal" the refunded lines' value
# (before tax and shipping); "derived" counts the refunds inferred where the platform keeps no
# refund records.

# %%
con.sql("""
    select platform, currency, count(*) as refunds, sum(amount) as "amount returned",
        sum(refunded_subtotal) as "refunded subtotal",
        count(*) filter (where is_derived) as derived
    from reporting.refunds
    where not is_test
    group by all
    order by platform, currency
""").df().set_index(["platform", "currency"])

# %% [markdown]
# ## Share of units refunded, by product
#
# The twelve products with the highest share of their units refunded, among products with at
# least five units sold; each platform and currency separately.

# %%
products = con.sql("""
    select platform, currency, title, quantity::bigint as quantity,
        refunded_quantity::bigint as refunded_quantity, refund_rate
    from reporting.product_sales
    where quantity >= 5
    order by refund_rate desc, platform, currency, title
    limit 12
""").df()
fig, ax = plt.subplots(figsize=(9, 0.4 * len(products) + 1.2), layout="constrained")
fig.suptitle("Share of units refunded, by product")
bars = ax.barh(
    products["platform"] + " · " + products["title"] + " (" + products["currency"] + ")",
    products["refund_rate"],
    color="tab:red",
)
ax.bar_label(
    bars,
    labels=[
        f"{rate:.0%}  ({refunded:,.0f} of {sold:,.0f} units)"
        for rate, refunded, sold in zip(
            products["refund_rate"],
            products["refunded_quantity"],
            products["quantity"],
            strict=True,
        )
    ],
    padding=3,
    fontsize=9,
)
ax.invert_yaxis()  # highest first
ax.xaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
ax.set_xlim(0, products["refund_rate"].max() * 1.45)  # room for the labels
ax.set_xlabel("units refunded / units sold")
ax.grid(axis="y", visible=False)
show(fig)

# %% [markdown]
# ## Days from order to refund
#
# Days between the order's day and the refund's day, both the shop's local days; bars are
# weeks (0-6 days, 7-13 days, ...).

# %%
days = con.sql("select days_to_refund from reporting.refunds where not is_test").df()[
    "days_to_refund"
]
median = days.median()
fig, ax = plt.subplots(figsize=(9, 3.8), layout="constrained")
fig.suptitle("Days from order to refund")
ax.hist(
    days,
    bins=range(0, int(days.max()) + 8, 7),
    color="tab:red",
    edgecolor="white",
)
ax.axvline(median, color="0.2", linestyle="--", linewidth=1)
ax.annotate(
    f"median {median:.0f} days",
    (median, 1),
    xycoords=("data", "axes fraction"),
    xytext=(4, -4),
    textcoords="offset points",
    va="top",
    fontsize=9,
)
ax.xaxis.set_major_locator(MultipleLocator(14))  # on the bars' edges: two weeks a tick
ax.yaxis.set_major_locator(MaxNLocator(integer=True))
ax.set_xlabel("days from order to refund")
ax.set_ylabel("refunds")
ax.grid(axis="x", visible=False)
show(fig)
pd.DataFrame(
    {
        "refunds": len(days),
        "median": days.median(),
        "mean": days.mean(),
        "90th percentile": days.quantile(0.9),
        "longest": days.max(),
    },
    index=["days from order to refund"],
)

# %% [markdown]
# ## Refunds by restock status
#
# `restock` is only known where the platform records it (Haravan, FlickRocket); derived refunds
# show as unknown. Counts of refunds, so all currencies together; the amounts below stay per
# currency.

# %%
restock = con.sql("""
    select platform,
        case when restock is null then 'unknown'
             when restock then 'restocked' else 'not restocked' end as restock,
        currency, count(*) as refunds, sum(amount) as amount_returned
    from reporting.refunds
    where not is_test
    group by all
    order by platform, restock, currency
""").df()
counts = restock.pivot_table(
    index="platform", columns="restock", values="refunds", aggfunc="sum", fill_value=0
).reindex(columns=["restocked", "not restocked", "unknown"], fill_value=0)
fig, ax = plt.subplots(figsize=(9, 0.5 * len(counts) + 1.4), layout="constrained")
fig.suptitle("Refunds by restock status")
left = pd.Series(0, index=counts.index)
for status, color in zip(counts.columns, ["tab:green", "tab:orange", "0.7"], strict=True):
    ax.barh(counts.index, counts[status], left=left, color=color, label=status)
    left += counts[status]
ax.invert_yaxis()
ax.xaxis.set_major_locator(MaxNLocator(integer=True))
ax.set_xlabel("refunds (count)")
ax.grid(axis="y", visible=False)
ax.legend(title="restock", loc="upper left", bbox_to_anchor=(1.01, 1))
show(fig)
restock.pivot_table(
    index=["currency", "restock"], values=["refunds", "amount_returned"], aggfunc="sum"
)[["refunds", "amount_returned"]].rename(columns={"amount_returned": "amount returned"})
