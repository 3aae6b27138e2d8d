"""Private redis-server processes, on their own ports, that a test may stop at will."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RedisServer:
    """A redis-server of the test's own, on its own port."""

    binary: str
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_timeout=0.2).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2)


def private_redis() -> RedisServer:
    """A started redis-server of the caller's own.

    A missing binary fails the test under MARKETS_TESTS_REQUIRE_REDIS (CI), else skips it.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("MARKETS_TESTS_REQUIRE_REDIS"):
            pytest.fail("redis-server is required (MARKETS_TESTS_REQUIRE_REDIS is set)")
        pytest.skip("redis-server is not installed")
    server = RedisServer(binary=binary, port=free_port())
    server.start()
    return server


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A fresh redis-server, stopped after the test."""
    server = private_redis()
    try:
        yield server
    finally:
        server.stop()
