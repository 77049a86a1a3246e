"""Reconciliation: flag orders the platform no longer returns (`is_deleted`)."""

from __future__ import annotations

from pathlib import Path

from pipelines.core import RunOptions, Shop


def reconcile_shops(shops: list[Shop], warehouse: Path, options: RunOptions) -> None:
    """Not available yet."""
    raise NotImplementedError("--reconcile is not implemented yet")
