"""Each platform is declared once, and everything keyed by platform agrees: the source modules
in `platforms/`, their mappers in `transforms/`, the simulators, the test oracle, a test module
and the README's configuration table name the same platforms, and each simulator accepts the
credentials its platform's declaration asks for."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from pipelines.settings import COMMON_OPTION_KEYS
from platforms import PLATFORMS
from simulators.registry import SIMULATORS
from tests.expected import EXPECTED

ROOT = Path(__file__).resolve().parents[1]


def test_sources_simulators_and_expectations_name_the_same_platforms() -> None:
    assert len(PLATFORMS) == 5
    assert set(SIMULATORS) == set(PLATFORMS)
    assert set(EXPECTED) == set(PLATFORMS)


@pytest.mark.parametrize("name", sorted(PLATFORMS))
def test_a_platform_is_one_module_in_each_package(name: str) -> None:
    declaration = PLATFORMS[name]
    assert importlib.import_module(f"platforms.{name}").PLATFORM is declaration
    assert declaration.map_order.__module__ == f"transforms.{name}"
    assert (ROOT / "tests" / f"test_{name}.py").is_file()


@pytest.mark.parametrize("name", sorted(PLATFORMS))
def test_each_simulator_takes_what_its_platform_declares(name: str) -> None:
    declaration, simulator = PLATFORMS[name], SIMULATORS[name]
    assert set(simulator.credentials) == set(declaration.credentials)
    assert set(simulator.options) <= set(declaration.options + COMMON_OPTION_KEYS)
    assert set(declaration.mapper_options) <= set(declaration.options)


def test_the_readme_configures_every_platform() -> None:
    rows = re.findall(
        r"^\| `(\w+)` \| `SOURCES__(\w+)__BASE_URL`", (ROOT / "README.md").read_text(), re.M
    )
    assert rows and {platform for platform, _ in rows} == set(PLATFORMS)
    for platform, section in rows:
        assert section == platform.upper()
        row = next(
            line
            for line in (ROOT / "README.md").read_text().splitlines()
            if line.startswith(f"| `{platform}` |")
        )
        for credential in PLATFORMS[platform].credentials:
            assert f"SOURCES__{section}__{credential.upper()}" in row
