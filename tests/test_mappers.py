"""Every platform's mapper reads its payload and leaves it as it was: the same parsed payload is
stored as the order's raw JSON after mapping, so a mapper that changed it would store its own
edits instead of what the platform sent."""

from __future__ import annotations

import copy
from functools import partial

import pytest

from platforms import PLATFORMS
from simulators.model import Store
from simulators.registry import SIMULATORS


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_mapping_leaves_the_payload_as_it_was(platform: str):
    spec = SIMULATORS[platform]
    store = Store(orders=60, seed=5, currencies=spec.currencies)
    api = spec.api(store, spec.authorization)
    payloads = [api.render(order) for order in store.orders.values()]
    # the shop's options a mapper takes (Lunasoft's currency), as a shop of the simulator has them
    options = {key: spec.options[key] for key in PLATFORMS[platform].mapper_options}
    mapper = partial(PLATFORMS[platform].map_order, **options)
    before = copy.deepcopy(payloads)
    mapped = [mapper(payload) for payload in payloads]
    # the seeded orders reach the derived refunds and the refund transactions
    assert any(rows.get("refunds") for rows in mapped)
    assert payloads == before
