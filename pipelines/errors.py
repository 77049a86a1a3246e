"""Errors whose message is written for the person running shopduck, and how any error is
turned into the one line a scheduler's log shows."""

from __future__ import annotations


class ShopduckError(RuntimeError):
    """A failure explained in its message (which never contains a credential)."""


def one_line(error: BaseException) -> str:
    """The cause of `error` as one line: dlt's wrappers are unwrapped down to the first
    exception of ours or of a library, and our own errors are shown as they are."""
    seen = error
    while type(seen).__module__.startswith("dlt") and not isinstance(seen, ShopduckError):
        nested = getattr(seen, "exception", None) or seen.__cause__ or seen.__context__
        if nested is None or nested is seen:
            break
        seen = nested
    lines = str(seen).strip().splitlines()
    text = lines[0] if lines else ""
    if isinstance(seen, ShopduckError):
        return text
    return f"{type(seen).__name__}: {text}" if text else type(seen).__name__
