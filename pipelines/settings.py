"""Constants shared by the runner, the CLI and the config loader, and dlt's settings."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any

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

# dlt's settings for shopduck, as environment defaults (a user's own environment wins). Not with
# `dlt.config[...] =`: that adds a configuration provider, which each of the ~270 lookups of
# dlt's configuration in a shop's run then also searches (a third of their time, measured).
DLT_SETTINGS = {
    # a loaded package's files are in the warehouse: kept, they would grow the pipeline folder
    "LOAD__DELETE_COMPLETED_JOBS": "true",
    # each table's rows of a package in files of about 2 MB (compressed parquet): a load job
    # covers one file, not all the raw payloads of a large backfill at once (50,000 Haravan
    # orders: 177 MB of JSON)
    "DATA_WRITER__FILE_MAX_BYTES": "2000000",
    # each item written as it comes, as a parquet row group of its own: shopduck hands dlt
    # batches of thousands of rows, and payloads in slices of 2 MB (`pipelines.batches`), which
    # the default buffer of 5,000 rows would join into row groups too large for DuckDB's memory
    "DATA_WRITER__BUFFER_MAX_ITEMS": "1",
    # dlt's anonymous usage telemetry: a request to dlthub's collector from every step of every
    # shop's pipeline (three a shop a run; a scheduled run of hundreds of shops sends hundreds),
    # waited for when the process exits. A load talks to its shops and its warehouse only;
    # RUNTIME__DLTHUB_TELEMETRY=true sends it.
    "RUNTIME__DLTHUB_TELEMETRY": "false",
    # Ctrl-C and SIGTERM are answered by shopduck itself, at once, whatever the run is doing
    # (`cli.interrupted`; what is on disk is safe at any instant). dlt would otherwise take them
    # over during each normalize and load, and fail that shop with "SignalReceivedException".
    "RUNTIME__INTERCEPT_SIGNALS": "false",
}


def use_dlt_settings() -> None:
    """Make DLT_SETTINGS dlt's defaults. Called before dlt first reads its configuration:
    it reads its runtime settings (telemetry among them) only once a process."""
    for key, value in DLT_SETTINGS.items():
        os.environ.setdefault(key, value)


def remember_secret_hints() -> None:
    """Make dlt remember, per type hint, whether a configuration value of that type is a secret.

    dlt asks at every lookup of a configuration value in the environment, and for every value a
    step's trace records, by typing introspection: 17 us each on this project's machine, some
    3,000 times a shop's run, on the thread that fetches and loads every shop (at 50 shops, a
    tenth of what it held the GIL for). The answer depends on the hint alone. The modules that
    ask by name (dlt 1.x) are pointed at the remembering function; calling again does nothing.
    """
    from dlt.common.configuration.specs import base_configuration

    asks = base_configuration.is_secret_hint
    if hasattr(asks, "__wrapped__"):
        return
    remembering = _remembering(asks)
    for name, module in list(sys.modules.items()):
        # a module's own names only (dlt.hub's lazy module imports on a missing attribute)
        if (
            name.startswith("dlt.")
            and getattr(module, "__dict__", {}).get("is_secret_hint") is asks
        ):
            module.is_secret_hint = remembering


def _remembering(is_secret_hint: Callable[[Any], bool]) -> Callable[[Any], bool]:
    answers: dict[Any, bool] = {}

    @functools.wraps(is_secret_hint)
    def remembering(hint: Any) -> bool:
        try:
            return answers[hint]
        except KeyError:
            answers[hint] = answer = is_secret_hint(hint)
            return answer
        except TypeError:  # a hint that cannot be hashed
            return is_secret_hint(hint)

    return remembering
