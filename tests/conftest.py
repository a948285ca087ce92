"""Session-wide fixtures shared by every kind of test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests import pg

_names = itertools.count()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[pg.Cluster]:
    cluster = pg.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: pg.Cluster) -> str:
    """A fresh, empty PostgreSQL database for one test."""
    return pg_cluster.create_database(f"t{next(_names)}")
