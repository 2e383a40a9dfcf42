"""``python -m sidecar``: start Redis when none is configured, then serve the app with uvicorn.

Ctrl+C or SIGTERM stops uvicorn gracefully (lifespan shutdown), then the Redis it started.
The port is bound first, before Redis and the models, so a busy port fails at once with one line; the
"listening on ..." line is printed only once uvicorn serves on that socket.
Exit codes: 0 clean stop, 2 bad settings, arguments or model directory, 3 Redis could not be started,
4 startup failed (e.g. the port is in use): the sidecar's own (it imports nothing of the load tester).
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
from pathlib import Path

import uvicorn

from sidecar.infra.redis_server import RedisServer, RedisStartError
from sidecar.infra.settings import Settings, SettingsError, load_checked

EXIT_BAD_SETTINGS = 2
"""Bad settings, arguments or model directory: one line says which, nothing was started."""
EXIT_REDIS_FAILED = 3
"""Redis could not be started (none was configured, and the bundled redis-server failed)."""
EXIT_STARTUP_FAILED = 4
"""Startup failed: the port is in use, or the app's lifespan startup failed (the error is above)."""


def parse_args(argv: list[str] | None, prog: str = "python -m sidecar") -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--host", help="address to bind (default 127.0.0.1, loopback only)")
    parser.add_argument("--port", type=int, help="port (default 8000)")
    parser.add_argument("--env-file", type=Path, help="a .env-style settings file (OSIRIS_* variables)")
    parser.add_argument("--log-level", default="warning", help="uvicorn log level (default warning)")
    return parser.parse_args(argv)


def load_settings(args: argparse.Namespace) -> Settings:
    if args.env_file is not None and not args.env_file.is_file():
        raise SystemExit(f"sidecar: settings file {args.env_file} does not exist")
    overrides = {k: v for k, v in {"host": args.host, "port": args.port}.items() if v is not None}
    return load_checked(_env_file=args.env_file, **overrides)


def bind_listening_socket(host: str, port: int) -> socket.socket:
    """Bind ``host:port`` now (OSError if taken), so nothing else starts for a port we cannot serve on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is no conflict
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server, saying "listening on" once its socket really serves (after lifespan startup)."""

    def __init__(self, config: uvicorn.Config, url: str) -> None:
        super().__init__(config)
        self.url = url

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            print(f"sidecar: listening on {self.url} (Ctrl+C to stop)", flush=True)


def main(argv: list[str] | None = None, prog: str = "python -m sidecar") -> int:
    args = parse_args(argv, prog)
    try:
        settings = load_settings(args)
    except SettingsError as exc:
        print(f"sidecar: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_SETTINGS

    try:
        sock = bind_listening_socket(settings.host, settings.port)
    except OSError as exc:
        print(f"sidecar: cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_STARTUP_FAILED
    host, port = sock.getsockname()[:2]
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    redis_server: RedisServer | None = None
    if settings.redis_url is None:
        try:
            redis_server = RedisServer().start()
        except RedisStartError as exc:
            sock.close()
            print(f"sidecar: {exc}", file=sys.stderr)
            return EXIT_REDIS_FAILED
        settings = settings.model_copy(update={"redis_url": redis_server.url})
        print(f"sidecar: started redis-server on {redis_server.url}", flush=True)

    from sidecar.api.app import create_app  # deferred: imports torch and transformers

    config = uvicorn.Config(create_app(settings), host=settings.host, port=port,
                            log_level=args.log_level, lifespan="on", timeout_graceful_shutdown=10)
    server = _Server(config, url)
    # uvicorn handles SIGINT/SIGTERM while serving and re-raises them afterwards; these no-op handlers
    # receive that re-raise, so we get to stop Redis and exit 0 instead of dying by the signal.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        if redis_server is not None:
            redis_server.stop()
            print("sidecar: stopped redis-server", flush=True)
    if not server.started:
        print("sidecar: startup failed (see the error above)", file=sys.stderr)
        return EXIT_STARTUP_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
