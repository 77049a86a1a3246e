"""The platform modules by platform id."""

from __future__ import annotations

from pipelines import flickrocket, haravan, lunasoft, merchantpro, spiffy
from pipelines.core import Platform

PLATFORMS: dict[str, Platform] = {
    module.PLATFORM.name: module.PLATFORM
    for module in (flickrocket, haravan, lunasoft, merchantpro, spiffy)
}
