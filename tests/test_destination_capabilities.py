"""The warehouse's dlt destinations work out their capabilities from the configuration once
(`pipelines.warehouse.capabilities_once`), giving the very answers dlt gives."""

from __future__ import annotations

import dlt
from dlt.common.destination import Destination
from dlt.common.normalizers.naming import snake_case, sql_cs_v1

from pipelines.warehouse import capabilities_once


def test_capabilities_are_dlts_own_and_the_configuration_is_resolved_once(tmp_path, monkeypatch):
    path = str(tmp_path / "warehouse.duckdb")
    plain, once = dlt.destinations.duckdb(path), capabilities_once(dlt.destinations.duckdb(path))
    resolved = []
    configuration = Destination.configuration

    def counted(self, *args, **kwargs):
        resolved.append(self)
        return configuration(self, *args, **kwargs)

    monkeypatch.setattr(Destination, "configuration", counted)
    insensitive, sensitive = snake_case.NamingConvention(), sql_cs_v1.NamingConvention()
    for naming in (None, insensitive, None, insensitive):
        assert dict(once.capabilities(naming=naming)) == dict(plain.capabilities(naming=naming))
    assert sum(destination is once for destination in resolved) == 1
    assert sum(destination is plain for destination in resolved) == 4

    # a case-sensitive naming convention adjusts them: worked out as dlt does, every time
    assert dict(once.capabilities(naming=sensitive)) == dict(plain.capabilities(naming=sensitive))
    assert sum(destination is once for destination in resolved) == 2
    # and what one caller changes in its answer, the next caller does not see
    once.capabilities().max_identifier_length = 1
    assert once.capabilities().max_identifier_length == plain.capabilities().max_identifier_length
