"""What the notebooks' charts share: one style, number and date formats, the span of days the
warehouse covers (to hatch partial periods), and showing a figure with its title as alt text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display
from matplotlib.figure import Figure
from matplotlib.ticker import StrMethodFormatter

THOUSANDS = StrMethodFormatter("{x:,.0f}")  # 1,250,000 rather than 1.25e6
PARTIAL = {"alpha": 0.45, "hatch": "///", "edgecolor": "white"}  # a partial week or month
WEEK, MID_WEEK = pd.Timedelta(days=7), pd.Timedelta(days=3.5)


def use_style() -> None:
    """Quiet axes and grids, no legend frames, money with two decimals in tables."""
    pd.options.display.float_format = "{:,.2f}".format
    plt.rcParams.update(
        {
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "axes.axisbelow": True,
            "grid.alpha": 0.3,
            "legend.frameon": False,
        }
    )


@dataclass(frozen=True)
class Span:
    """The days the warehouse's reporting covers."""

    first_day: date
    last_day: date

    def partial(self, starts: pd.Series, freq: str) -> pd.Series:
        """Periods ('W': weeks from Monday, 'M': months) the data cover only in part: one that
        starts before the first day, and the one holding the last day (still running)."""
        current = pd.Timestamp(self.last_day).to_period(freq).start_time
        return (starts < pd.Timestamp(self.first_day)) | (starts == current)

    def describe(self) -> None:
        """Show the span as a line of text."""
        first, last = f"{self.first_day:%d %b %Y}", f"{self.last_day:%d %b %Y}"
        display(Markdown(f"Data from **{first}** to **{last}**."))


def date_axis(ax: plt.Axes) -> None:
    """Dates as "Sep 2026", then "15": the year on each month, no offset label."""
    locator = mdates.AutoDateLocator()
    formatter = mdates.ConciseDateFormatter(locator, show_offset=False)
    formatter.zero_formats = ["", "%Y", "%b %Y", "%d %b", "%H:%M", "%H:%M"]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(formatter)


def show(fig: Figure) -> None:
    """Display the figure with its title as alt text (the published HTML keeps it)."""
    display(fig, metadata={"image/png": {"alt": fig.get_suptitle()}})
    plt.close(fig)
