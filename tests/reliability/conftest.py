"""The reliability cases' sidecars with settings of their own, started side by side.

Each case that breaks or overloads a sidecar needs one of its own (a sidecar start costs seconds of model
loading). The first case that needs one starts every one the session's selected tests will need, all at
once, without waiting; each case then waits only for its own, which has mostly loaded while the cases
before it ran.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sidecar.redis_server import RedisServer
from tests.conftest import SidecarProcess
from tests.reliability.reliability_support import API_KEY

OVERLOAD_QUEUE = os.environ.get("OSIRIS_RELIABILITY_OVERLOAD_QUEUE", "16")
OVERLOAD_STREAM = f"reliability:overload:{os.getpid()}"
REDIS_LOSS_STREAM = f"reliability:redis-loss:{os.getpid()}"


@dataclass
class OwnRedis:
    """A sidecar's own ``redis-server`` (append-only file in ``data_dir``), which its case stops and restarts."""

    server: RedisServer
    data_dir: Path


def _environments(redis_server: RedisServer, own: dict[str, OwnRedis]) -> dict[str, dict[str, str]]:
    """name -> the sidecar's extra environment. ``keyed_sidecar`` has no REDIS_URL: it starts as ``make sidecar``
    does, its launcher starting its own ``redis-server``."""
    envs = {
        "killable_sidecar": {"REDIS_URL": redis_server.url},
        "overload_sidecar": {"REDIS_URL": redis_server.url, "OSIRIS_MAX_QUEUE": OVERLOAD_QUEUE,
                             "OSIRIS_PROPOSAL_STREAM": OVERLOAD_STREAM},
        "keyed_sidecar": {"OSIRIS_API_KEY": API_KEY},
    }
    if "redis_loss_sidecar" in own:
        envs["redis_loss_sidecar"] = {"REDIS_URL": own["redis_loss_sidecar"].server.url,
                                      "OSIRIS_PROPOSAL_STREAM": REDIS_LOSS_STREAM}
    return envs


NAMES = ("killable_sidecar", "overload_sidecar", "keyed_sidecar", "redis_loss_sidecar")
WITH_OWN_REDIS = ("redis_loss_sidecar",)


@pytest.fixture(scope="session")
def _reliability_sidecars(request: pytest.FixtureRequest, start_sidecars: Callable[..., list[SidecarProcess]],
                          redis_server: RedisServer,
                          tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, SidecarProcess],
                                                                                      dict[str, OwnRedis]]]:
    """Every sidecar of ``NAMES`` that a selected test asks for, started at once (none waited for here)."""
    wanted = [name for name in NAMES
              if any(name in getattr(item, "fixturenames", ()) for item in request.session.items)]
    own: dict[str, OwnRedis] = {}
    try:
        for name in WITH_OWN_REDIS:
            if name in wanted:
                data_dir = tmp_path_factory.mktemp("redis")
                own[name] = OwnRedis(RedisServer(data_dir=data_dir).start(), data_dir)
        envs = _environments(redis_server, own)
        processes = start_sidecars(*(envs[name] for name in wanted), wait=None)
        yield dict(zip(wanted, processes, strict=True)), own
    finally:
        for redis in own.values():
            redis.server.stop()


def _ready(sidecars: tuple[dict[str, SidecarProcess], dict[str, OwnRedis]], name: str) -> SidecarProcess:
    process = sidecars[0][name]
    process.wait_ready()
    return process


@pytest.fixture(scope="session")
def killable_sidecar(_reliability_sidecars: tuple[dict[str, SidecarProcess], dict[str, OwnRedis]]) -> SidecarProcess:
    """On the shared Redis; its case kills it."""
    return _ready(_reliability_sidecars, "killable_sidecar")


@pytest.fixture(scope="session")
def overload_sidecar(_reliability_sidecars: tuple[dict[str, SidecarProcess], dict[str, OwnRedis]]) -> SidecarProcess:
    """On the shared Redis, with ``OSIRIS_MAX_QUEUE=OVERLOAD_QUEUE`` and a stream of its own."""
    return _ready(_reliability_sidecars, "overload_sidecar")


@pytest.fixture(scope="session")
def keyed_sidecar(_reliability_sidecars: tuple[dict[str, SidecarProcess], dict[str, OwnRedis]]) -> SidecarProcess:
    """Started as ``make sidecar`` starts it (its own ``redis-server``), with ``OSIRIS_API_KEY=API_KEY``."""
    return _ready(_reliability_sidecars, "keyed_sidecar")


@pytest.fixture(scope="session")
def redis_loss_sidecar(_reliability_sidecars: tuple[dict[str, SidecarProcess], dict[str, OwnRedis]]
                       ) -> tuple[SidecarProcess, OwnRedis]:
    """On a Redis of its own (which its case stops and restarts) and the stream ``REDIS_LOSS_STREAM``."""
    return _ready(_reliability_sidecars, "redis_loss_sidecar"), _reliability_sidecars[1]["redis_loss_sidecar"]
