"""Constants shared by the runner, the CLI and the config loader."""

from __future__ import annotations

DATASET = "commerce"
REPORTING_SCHEMA = "reporting"
DEFAULT_WAREHOUSE = "shopduck.duckdb"
WAREHOUSE_ENV = "DESTINATION__DUCKDB__CREDENTIALS"
DEFAULT_LOOKBACK_MINUTES = 10
DEFAULT_TRAILING_DAYS = 30
DEFAULT_LOCK_WAIT_SECONDS = 60.0

# Per-shop settings every platform takes besides SHOP, LOOKBACK_MINUTES and PAGE_SIZE (a
# platform declares the others it takes, e.g. TRAILING_DAYS, in `Platform.options`).
COMMON_OPTION_KEYS = ("timezone", "rate_limit")
