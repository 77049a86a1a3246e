"""shopduck's loader: sources, runs, warehouses and the command line."""

import os

# Arrow's default allocator (jemalloc) keeps freed memory for reuse; the system allocator returns
# it. Every process of a load maps and writes arrow tables batch after batch: with jemalloc, a
# 50,000-order backfill peaked 65 MB higher (loader and mapping workers, measured 2026-11-26).
# Set before pyarrow is imported (it reads this once), and inherited by the mapping workers.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
