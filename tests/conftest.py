"""Shared fixtures: the loopback LLM stand-in and a Traymind server pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.upstream import Upstream


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with Upstream() as up:
        yield up
