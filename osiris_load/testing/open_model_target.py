"""A tiny, fast HTTP target for the open-model tests, which can stall for a known time at a known moment.

Serves what the read-heavy and sidecar-load scenarios check: ``GET /health`` (a JSON object),
``GET /metrics`` (Prometheus text) and ``POST /generate/`` (``generated_text``), with keep-alive,
on 127.0.0.1 only. With ``--stall A:D`` (repeatable), every request that arrives between ``A`` and
``A + D`` seconds after the first request is answered only at ``A + D`` (a server that freezes, as
in a GC pause, and then answers its backlog): the corrected latencies must show it. With
``--delay-ms D`` every answer is sent D ms after its request was read (a server of known latency, for
the generator-health runs of issue 17).

Run ``python -m osiris_load.testing.open_model_target --port 0``; it prints ``listening <port>`` once ready.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

HEALTH = json.dumps({"status": "ok"}).encode()
METRICS = b"# HELP up Whether the target is up.\n# TYPE up gauge\nup 1\n"
GENERATED = json.dumps({"generated_text": "hello"}).encode()


async def read_request(reader: asyncio.StreamReader) -> tuple[str, str, bytes]:
    """One HTTP/1.1 request off a keep-alive connection: method, path and body (by Content-Length)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    length = 0
    for line in lines[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    return method, path, await reader.readexactly(length) if length else b""


class Target:
    def __init__(self, stalls: list[tuple[float, float]], delay_s: float = 0.0) -> None:
        self.stalls = stalls
        self.delay_s = delay_s
        self.first: float | None = None

    async def delay(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self.first is None:
            self.first = now
        for after, length in self.stalls:
            start = self.first + after
            end = start + length
            if start <= now < end:
                await asyncio.sleep(end - now)
                return

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                method, path, _ = await read_request(reader)
                await self.delay()
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                if path.startswith("/health"):
                    status, body, kind = 200, HEALTH, b"application/json"
                elif path.startswith("/metrics"):
                    status, body, kind = 200, METRICS, b"text/plain; version=0.0.4"
                elif path.startswith("/generate") and method == "POST":
                    status, body, kind = 200, GENERATED, b"application/json"
                else:
                    status, body, kind = 404, b"{}", b"application/json"
                head = b"HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n" % (status, kind, len(body))
                writer.write(head + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()


async def main(port: int, stalls: list[tuple[float, float]], delay_s: float = 0.0) -> None:
    target = Target(stalls, delay_s)
    server = await asyncio.start_server(target.handle, "127.0.0.1", port, backlog=512)
    bound = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"listening {bound}\n")
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--stall", action="append", default=[], help="AFTER:FOR seconds, e.g. 2:1.5")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="answer each request this late")
    args = parser.parse_args()
    stalls = [(float(a), float(b)) for a, b in (item.split(":") for item in args.stall)]
    try:
        asyncio.run(main(args.port, stalls, args.delay_ms / 1000.0))
    except KeyboardInterrupt:
        pass
