"""dlt's settings as shopduck applies them."""

from __future__ import annotations

import importlib
from typing import Annotated

from dlt.common.configuration.providers import EnvironProvider
from dlt.common.configuration.specs import ConnectionStringCredentials, base_configuration
from dlt.common.typing import TSecretStrValue

from pipelines.settings import remember_secret_hints

HINTS = [
    str,
    str | None,
    int,
    TSecretStrValue,
    TSecretStrValue | None,
    ConnectionStringCredentials,
    ConnectionStringCredentials | None,
    Annotated[str, "a note"],
]
ASKING_MODULES = [
    "dlt.common.configuration.specs.base_configuration",
    "dlt.common.configuration.providers.environ",
    "dlt.common.configuration.resolve",
    "dlt.pipeline.trace",
]


def test_dlt_remembers_which_hints_are_secrets_with_its_own_answers(monkeypatch):
    asks = base_configuration.is_secret_hint
    original = getattr(asks, "__wrapped__", asks)  # other tests' loads may have called it
    expected = [original(hint) for hint in HINTS]
    assert True in expected and False in expected

    remember_secret_hints()
    remember_secret_hints()  # a second call changes nothing

    for name in ASKING_MODULES:
        remembering = importlib.import_module(name).is_secret_hint
        assert remembering.__wrapped__ is original  # wrapped once
        assert [remembering(hint) for hint in HINTS] == expected  # asked
        assert [remembering(hint) for hint in HINTS] == expected  # remembered
    assert remembering([str]) is original([str])  # a hint that cannot be hashed
    # a secret is still read from the environment
    monkeypatch.setenv("SHOP__PASSWORD", "s3cret")
    value, key = EnvironProvider().get_value("password", TSecretStrValue, None, "shop")
    assert (value, key) == ("s3cret", "SHOP__PASSWORD")
