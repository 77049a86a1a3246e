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
#   title: Revenue report
# ---

# %% [markdown]
# # Revenue report
#
# Net sales, order value and discounts of every shop, from the `reporting` tables that
# `shopduck load` refreshes after each load. Money stays in its own currency: every chart has a
# panel or a bar per currency, and no number adds two currencies together.
#
# Days are the shop's local days: an order counts on the day it was placed and a refund on the
# day it was made, both on the shop's calendar (its `TIMEZONE` setting, UTC unless set).
# Net sales = gross sales - discounts - refunds. Test and cancelled orders are left out.
#
# The first week or month usually starts partway through, and the latest one is still running:
# the charts hatch these partial periods (the bar, or the background behind a line), so a low
# value there is not read as a drop.
#
# The warehouse is opened read-only: the Postgres warehouse when `SHOPDUCK__DESTINATION=postgres`
# (attached to DuckDB), else the file `SHOPDUCK_WAREHOUSE` names, else `shopduck.duckdb` in this
# folder or the one above (where `uv run shopduck demo` writes it).

# %%
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from pipelines.charts import MID_WEEK, PARTIAL, THOUSANDS, WEEK, Span, date_axis, show, use_style
from pipelines.report import find_warehouse, open_read_only

con = open_read_only(find_warehouse())
[(first_day, last_day)] = con.execute(
    "select min(day), max(day) from reporting.daily_sales"
).fetchall()
span = Span(first_day, last_day)
platforms = sorted(con.sql("select distinct platform from reporting.daily_sales").df()["platform"])
COLORS = {platform: f"C{i % 10}" for i, platform in enumerate(platforms)}
use_style()


span.describe()

# %% [markdown]
# ## Weekly net sales by shop
#
# One panel per currency, one line per shop (a colour per platform; a platform's further shops
# dashed); each point is a week, Monday to Sunday. Net sales fall in a week when refunds of
# older orders exceed that week's sales, and can go below zero.

# %%
weekly = con.sql("""
    select date_trunc('week', day) as week, currency, platform || ' / ' || shop as shop,
        platform, sum(net_sales) as net_sales
    from reporting.daily_sales
    group by all
    order by week
""").df()
currencies = sorted(weekly["currency"].unique())
shops = weekly[["shop", "platform"]].drop_duplicates().sort_values("shop")
shops["style"] = shops.groupby("platform").cumcount().map(lambda n: ("-", "--", ":", "-.")[n % 4])
shops = shops.set_index("shop")
fig, axes = plt.subplots(
    len(currencies),
    1,
    figsize=(10, 2.2 * len(currencies) + 0.6),
    sharex=True,
    layout="constrained",
    squeeze=False,
)
fig.suptitle("Weekly net sales by shop")
for ax, currency in zip(axes[:, 0], currencies, strict=True):
    rows = weekly[weekly["currency"] == currency]
    frame = rows.pivot_table(index="week", columns="shop", values="net_sales", fill_value=0)
    for shop in frame.columns:
        ax.plot(
            frame.index + MID_WEEK,
            frame[shop],
            marker="o",
            markersize=3,
            label=shop,
            color=COLORS[shops.loc[shop, "platform"]],
            linestyle=shops.loc[shop, "style"],
        )
    for start in frame.index[span.partial(frame.index.to_series(), "W")]:
        ax.axvspan(start, start + WEEK, facecolor="0.9", hatch="///", edgecolor="0.75", linewidth=0)
    ax.axhline(0, color="0.4", linewidth=0.8)
    ax.set_title(currency, loc="left", fontweight="bold")
    ax.set_ylabel(f"net sales ({currency})")
    ax.yaxis.set_major_formatter(THOUSANDS)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
date_axis(axes[-1, 0])
axes[-1, 0].set_xlabel("week (the shop's local days)")
fig.text(0.01, 0, "Hatched background: partial weeks.", fontsize=9, color="0.3", va="top")
show(fig)

# %% [markdown]
# ## Orders, net sales and average order value per month
#
# Average order value is what customers paid per order (`total_price`, tax and shipping
# included). Net sales here are per order: the order's refunds count against the month it was
# placed in.

# %%
monthly = con.sql("""
    select date_trunc('month', order_date) as month, platform, currency,
        count(*) as orders,
        sum(net_sales) as net_sales,
        avg(total_price) as average_order_value
    from reporting.orders
    where not is_test and not is_cancelled
    group by all
    order by month, platform, currency
""").df()
monthly["partial_month"] = span.partial(monthly["month"], "M")
monthly.assign(month=monthly["month"].dt.strftime("%b %Y")).set_index(
    ["month", "platform", "currency"]
).rename(columns=lambda name: name.replace("_", " "))

# %% [markdown]
# Each panel is one currency; bars are months, one colour per platform; hatched bars are
# partial months, averaged over fewer orders.

# %%
columns = min(3, len(currencies))
rows_needed = -(-len(currencies) // columns)
fig, axes = plt.subplots(
    rows_needed,
    columns,
    figsize=(4.2 * columns, 3.2 * rows_needed + 0.8),
    layout="constrained",
    squeeze=False,
)
fig.suptitle("Average order value per month")
for ax in axes.flat[len(currencies) :]:
    ax.set_visible(False)
for ax, currency in zip(axes.flat, currencies, strict=False):  # spare panels stay hidden
    frame = monthly[monthly["currency"] == currency]
    present = sorted(frame["platform"].unique())
    width = pd.Timedelta(days=min(6, 24 / len(present)))
    offset = (pd.Timedelta(days=30) - width * len(present)) / 2  # centre the group in its month
    for i, platform in enumerate(present):
        rows = frame[frame["platform"] == platform]
        for is_partial, style in ((False, {}), (True, PARTIAL)):
            chosen = rows[rows["partial_month"] == is_partial]
            ax.bar(
                chosen["month"] + offset + i * width,
                chosen["average_order_value"],
                width=width,
                align="edge",
                color=COLORS[platform],
                **style,
            )
    ax.xaxis.set_major_locator(mdates.MonthLocator(bymonthday=16))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b\n%Y"))
    ax.tick_params(axis="x", length=0)
    ax.grid(axis="x", visible=False)
    ax.set_title(currency, loc="left", fontweight="bold")
    ax.set_ylabel(f"average order value ({currency})")
    ax.yaxis.set_major_formatter(THOUSANDS)
handles = [Patch(color=COLORS[p], label=p) for p in platforms]
handles.append(Patch(facecolor="0.6", label="partial month", **PARTIAL))
fig.supxlabel("month of the order (the shop's local days)", fontsize=10)
fig.legend(handles=handles, loc="outside right upper")
show(fig)

# %% [markdown]
# ## Top products by net sales
#
# The three best-selling products of each platform and currency, over the whole period.

# %%
con.sql("""
    select platform, currency, title as product, quantity::bigint as "units sold",
        gross_sales as "gross sales", net_sales as "net sales"
    from reporting.product_sales
    qualify row_number() over (partition by platform, currency order by net_sales desc) <= 3
    order by platform, currency, net_sales desc
""").df().set_index(["platform", "currency"])

# %% [markdown]
# ## Discounts as a share of gross sales
#
# Discounts / gross sales per platform and currency over the whole period. MerchantPro sends
# coupon codes without amounts, so its share is unknown rather than zero.

# %%
discounts = con.sql("""
    select platform, currency,
        sum(gross_sales) as gross_sales, sum(discounts) as discounts,
        sum(discounts) / nullif(sum(gross_sales), 0) as discount_share
    from reporting.daily_sales
    group by all
    order by discount_share, platform, currency
""").df()
fig, ax = plt.subplots(figsize=(8, 0.4 * len(discounts) + 1.2), layout="constrained")
fig.suptitle("Discounts as a share of gross sales")
bars = ax.barh(
    discounts["platform"] + " / " + discounts["currency"],
    discounts["discount_share"],
    color=[COLORS[p] for p in discounts["platform"]],
)
ax.bar_label(
    bars,
    labels=[
        "unknown (no amounts sent)" if platform == "merchantpro" else f"{share:.1%}"
        for platform, share in zip(discounts["platform"], discounts["discount_share"], strict=True)
    ],
    padding=3,
    fontsize=9,
)
ax.xaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=1))
ax.set_xlim(0, discounts["discount_share"].max() * 1.35)  # room for the labels
ax.set_xlabel("discounts as a share of gross sales, whole period")
ax.grid(axis="y", visible=False)
show(fig)
discounts.assign(discount_share=100 * discounts["discount_share"]).rename(
    columns={"gross_sales": "gross sales", "discount_share": "discount %"}
).set_index(["platform", "currency"])
