"""The floor under every Python client of ``osiris-load bench generator_cost``: a bare gevent +
geventhttpclient loop (one keep-alive ``HTTPClient`` per greenlet, no stats, no events), doing the
same iteration (``GET /health`` + ``GET /metrics``, each status checked) as fast as it can.

    python osiris_load/bench/helpers/raw_loop.py URL USERS SECONDS   (run by path: gevent patches first)

Prints the requests it made and how many failed the status check.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import time  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import gevent  # noqa: E402
from geventhttpclient import HTTPClient  # noqa: E402

PATHS = ("/health", "/metrics")


def user(host: str, port: int, deadline: float, counts: list[int]) -> None:
    """One user: its own keep-alive connection, iterations until ``deadline``."""
    client = HTTPClient(host, port, concurrency=1, connection_timeout=60, network_timeout=60)
    while time.monotonic() < deadline:
        for path in PATHS:
            response = client.get(path)
            response.read()
            response.release()
            counts[0] += 1
            if response.status_code != 200:
                counts[1] += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("users", type=int)
    parser.add_argument("seconds", type=float)
    args = parser.parse_args(argv)
    parts = urlsplit(args.url)
    counts = [0, 0]
    deadline = time.monotonic() + args.seconds
    gevent.joinall([gevent.spawn(user, parts.hostname, parts.port or 80, deadline, counts)
                    for _ in range(args.users)])
    print(f"requests {counts[0]} failed {counts[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
