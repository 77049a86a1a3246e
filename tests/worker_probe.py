"""Run in a mapping worker by the tests: it imports nothing, so it tells what the worker had."""

import sys


def libraries() -> set[str]:
    """The top-level packages imported in this process."""
    return {name.partition(".")[0] for name in sys.modules}
