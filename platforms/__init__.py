"""The platforms shopduck reads, one module each, found by their declarations: every module
in this package declares a `PLATFORM` (`pipelines.platform.Platform`) and is registered under
its declared name. Adding a platform is adding a module here (see the README)."""

from __future__ import annotations

import importlib
import pkgutil

from pipelines.platform import Platform


def _declared() -> dict[str, Platform]:
    found: dict[str, Platform] = {}
    for module in pkgutil.iter_modules(__path__):
        declaration = importlib.import_module(f"{__name__}.{module.name}").PLATFORM
        found[declaration.name] = declaration
    return dict(sorted(found.items()))


PLATFORMS: dict[str, Platform] = _declared()
