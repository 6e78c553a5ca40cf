"""Fixtures for the PostgreSQL tests: one real cluster per test module, a fresh database
per test. Load with ``pytest_plugins = ("tests.postgres_conftest",)``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.postgres_server import fresh_database, new_name, postgres_server


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A PostgreSQL server started in a temporary folder; its URL."""
    with postgres_server() as url:
        yield url


@pytest.fixture
def database(cluster: str) -> str:
    """A new, empty database on the module's cluster; its URL."""
    return fresh_database(cluster, new_name())
