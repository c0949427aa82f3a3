"""Shared pytest fixtures: a real redis-server for differential tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from realredis import RedisServer, find_redis_server  # noqa: E402


@pytest.fixture(scope="session")
def binary() -> str:
    """The redis-server executable, for tests that start their own servers."""
    b = find_redis_server()
    if b is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    return b


@pytest.fixture(scope="session")
def real_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server 7 on 127.0.0.1:<free port>, persistence off, stopped by PID at exit."""
    binary = find_redis_server()
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server to run this test)")
    server = RedisServer(binary, tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.stop()
