"""A known-answer OpenAI-style streaming server for the LLM-metrics tests: TTFT and gaps are set.

``POST /v1/chat/completions`` and ``POST /v1/completions`` stream (``"stream": true``; anything else
gets one JSON answer) over HTTP/1.1 chunked encoding with keep-alive, on 127.0.0.1 only:

- at once, (chat) the role chunk ``{"role": "assistant", "content": ""}``, as vLLM and OpenAI send it;
- after ``--ttft-ms``, the first token; then each next token after the next of ``--gaps-ms``
  (a comma list, used in turn and cycled), ``--tokens`` tokens in all (fewer if ``max_tokens`` says so);
- the finish chunk, the usage chunk when ``stream_options.include_usage``, then ``data: [DONE]``.

Each chunk is written and drained alone, so a client sees every gap. The schedule is absolute (token
``i`` is due at receipt + TTFT + the gaps before it), and ``--log FILE`` records when each token of a
whole answer was really sent and when its ``[DONE]`` was (``time.perf_counter``, the system-wide
monotonic clock on Linux, so a client on the same machine can compare; each stamp taken just before
its write, so no client can read it earlier): on a starved machine the known answer is what was sent.
Input tokens are the prompt's whitespace-separated words (the known answer for ``usage.prompt_tokens``).
``--slots N`` serves N streams at once and queues the rest (their schedule starts when a slot frees):
a server with a capacity, for the capacity search (N / (TTFT + gaps) answers per second at most).

The ``model`` picks a failure instead (``GET /v1/models`` lists ``fixture`` first, then these):
``cut`` closes the connection after 2 tokens (no [DONE]); ``badjson`` sends a chunk that is not JSON;
``empty`` streams no token at all; ``error`` sends an OpenAI error object after 2 tokens; ``stall``
sends 1 token and then nothing for an hour; ``cycle`` takes each of the six models in turn, one
request after another (``fixture`` first).

Run ``python -m osiris_load.testing.llm_stream_target --port 0``; it prints ``listening <port>`` once ready.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from osiris_load.testing.open_model_target import read_request

MODELS = ("fixture", "cut", "badjson", "empty", "error", "stall")
CYCLE = "cycle"


def sse(payload: Any) -> bytes:
    data = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
    return b"data: " + data + b"\n\n"


class Target:
    def __init__(self, ttft_ms: float, gaps_ms: list[float], tokens: int, log: TextIO | None = None,
                 slots: int = 0) -> None:
        self.log = log
        self.slots = asyncio.Semaphore(slots) if slots > 0 else None
        self.ttft_s = ttft_ms / 1000
        self.gaps_s = [g / 1000 for g in gaps_ms]
        self.tokens = tokens
        self.served = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                method, path, raw = await read_request(reader)
                body = json.loads(raw) if raw else {}
                if method == "GET" and path.startswith("/v1/models"):
                    await self.whole(writer, 200, {"object": "list", "data": [
                        {"id": m, "object": "model", "created": 0, "owned_by": "fixture"} for m in (*MODELS, CYCLE)]})
                elif method == "POST" and path.startswith("/v1/") and body.get("stream"):
                    if not await self.stream(writer, body, chat=path.startswith("/v1/chat/")):
                        return
                elif method == "POST" and path.startswith("/v1/"):
                    await self.whole(writer, 200, {"choices": [{"index": 0, "text": "x", "finish_reason": "stop"}]})
                else:
                    await self.whole(writer, 404, {"error": {"message": f"no route {method} {path}"}})
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def whole(self, writer: asyncio.StreamWriter, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
                     .encode() + data)
        await writer.drain()

    async def stream(self, writer: asyncio.StreamWriter, body: dict[str, Any], *, chat: bool) -> bool:
        """Stream one answer; False when the connection was cut on purpose."""
        received = time.perf_counter()
        model = str(body.get("model", "fixture"))
        if model == CYCLE:
            model = MODELS[self.served % len(MODELS)]
        self.served += 1
        count = min(self.tokens, int(body.get("max_tokens") or body.get("max_completion_tokens") or self.tokens))
        if model == "empty":
            count = 0
        if chat:
            prompt = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
        else:
            prompt = str(body.get("prompt", ""))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")

        async def send(data: bytes) -> None:
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await writer.drain()

        def chunk(text: str | None, reason: str | None = None) -> bytes:
            if chat:
                delta = {} if text is None else {"content": text}
                return sse({"object": "chat.completion.chunk", "model": model,
                            "choices": [{"index": 0, "delta": delta, "finish_reason": reason}]})
            return sse({"object": "text_completion", "model": model,
                        "choices": [{"index": 0, "text": text or "", "finish_reason": reason}]})

        if self.slots is not None:  # --slots: a stream waits for a free slot (its TTFT grows with the queue)
            await self.slots.acquire()
        try:
            if chat:
                await send(sse({"object": "chat.completion.chunk", "model": model,
                                "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}))
            begun = received if self.slots is None else time.perf_counter()
            due = begun + self.ttft_s  # an absolute schedule: a late send does not delay the next ones
            sent: list[float] = []
            for i in range(count):
                if i:
                    due += self.gaps_s[(i - 1) % len(self.gaps_s)]
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                sent.append(time.perf_counter())  # before the write: no client can read the token earlier
                await send(chunk(f" t{i}"))
                if model == "cut" and i == 1:
                    return False
                if model == "error" and i == 1:
                    await send(sse({"error": {"message": "fixture: the model fell over", "type": "server_error"}}))
                    await send(b"")
                    return True
                if model == "badjson" and i == 1:
                    await send(sse(b"{not json"))
                if model == "stall":
                    await asyncio.sleep(3600)
            await send(chunk(None, "length"))
            options = body.get("stream_options") or {}
            if options.get("include_usage"):
                await send(sse({"object": "chunk", "model": model, "choices": [], "usage": {
                    "prompt_tokens": len(prompt.split()), "completion_tokens": count,
                    "total_tokens": len(prompt.split()) + count}}))
            done = time.perf_counter()  # before the write, as the tokens' stamps
            if self.log is not None and model == "fixture" and count:
                self.log.write(json.dumps({"received": received, "sent": sent, "done": done}) + "\n")
                self.log.flush()
            await send(b"data: [DONE]\n\n")
            await send(b"")  # the chunked body's end
            return True
        finally:
            if self.slots is not None:
                self.slots.release()


class Running:
    """This server started as its own process (``--port 0``: a free port), for a test to aim at."""

    def __init__(self, *args: str) -> None:
        from osiris_load.testing.support import ahead_for_the_cpu  # the tests' helpers: not in the server

        root = Path(__file__).resolve().parents[2]
        self.process = subprocess.Popen([sys.executable, "-m", "osiris_load.testing.llm_stream_target", "--port", "0",
                                         *args],
                                        cwd=root, stdout=subprocess.PIPE, text=True,
                                        preexec_fn=ahead_for_the_cpu)  # its schedule, not the machine's load
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith("listening "), f"the target did not start: {line!r}"
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ttft-ms", type=float, default=50.0)
    parser.add_argument("--gaps-ms", default="10", help="comma list of inter-token gaps, used in turn")
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--slots", type=int, default=0,
                        help="streams served at once (0: any number); the rest wait, so TTFT grows with the load")
    parser.add_argument("--log", help="append each whole answer's receive and send times (perf_counter) as JSON lines")
    args = parser.parse_args(argv)
    gaps = [float(g) for g in args.gaps_ms.split(",")]
    target = Target(args.ttft_ms, gaps, args.tokens, open(args.log, "a") if args.log else None, args.slots)
    server = await asyncio.start_server(target.handle, "127.0.0.1", args.port)
    port = server.sockets[0].getsockname()[1]
    print(f"listening {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1:]))
    except KeyboardInterrupt:
        pass
