"""Constants shared by the runner, the CLI and the config loader."""

from __future__ import annotations

DATASET = "commerce"
REPORTING_SCHEMA = "reporting"
DEFAULT_WAREHOUSE = "shopduck.duckdb"
WAREHOUSE_ENV = "DESTINATION__DUCKDB__CREDENTIALS"
DEFAULT_LOOKBACK_MINUTES = 10
DEFAULT_TRAILING_DAYS = 30
DEFAULT_LOCK_WAIT_SECONDS = 60.0

# The credentials each platform's shop is configured with (CONTRACT.md section 2).
CREDENTIAL_KEYS: dict[str, tuple[str, ...]] = {
    "flickrocket": ("access_token",),
    "haravan": ("access_token",),
    "lunasoft": ("api_key",),
    "spiffy": ("api_key", "password"),
    "merchantpro": ("api_key", "api_secret"),
}
PLATFORM_IDS = tuple(CREDENTIAL_KEYS)
# Optional per-shop keys besides SHOP, LOOKBACK_MINUTES and PAGE_SIZE.
OPTION_KEYS = ("trailing_days", "currency", "timezone")
