"""Benchmark: throughput of dynamic batching against one-request-at-a-time, in the same run.

Why: the sidecar batches concurrent requests into one ``model.generate``; this measures what that
buys. ``--clients`` concurrent clients each send ``generate(prompt, max_new_tokens)`` back to back
until ``--requests`` are done, once per ``--batch-sizes`` entry (default: 1, then 32).

By default the runner is driven in-process (no HTTP); ``--via-app`` goes through the FastAPI app
(``sidecar.api.app.create_app``) over an in-process ASGI transport, so routing and validation count too.

Examples::

    osiris-load bench batching                         # default small model, CPU or CUDA ("auto")
    osiris-load bench batching --large --device cuda   # 12 layers x 768 random-weight GPT-2
    osiris-load bench batching --model-dir /models/phi3 --device cuda
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from sidecar.engine.model_builder import ensure_default_model
from sidecar.engine.runner import ModelRunner, resolve_device
from sidecar.infra.metrics import SidecarMetrics
from sidecar.infra.settings import Settings

LARGE_ARCH = {"n_layer": 12, "n_embd": 768, "n_head": 12, "n_positions": 1024}
PROMPTS = [
    "A trade idea for AAPL", "A short plan for trading BTC", "A strategy for SPY",
    "Should I tighten the stop on NVDA?", "Risk review of the ETH position", "hello",
]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help='"auto" (CUDA if available), "cpu", "cuda", "cuda:1", ...')
    p.add_argument("--model-dir", type=Path, help="a from_pretrained directory; default: the built 'hermes'")
    p.add_argument("--cache-dir", type=Path, default=None, help="where default models are built")
    p.add_argument("--large", action="store_true", help="build and use a 12-layer, 768-wide random GPT-2")
    p.add_argument("--n-layer", type=int)
    p.add_argument("--n-embd", type=int)
    p.add_argument("--n-head", type=int)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--requests", type=int, default=256, help="requests per measured configuration")
    p.add_argument("--max-new-tokens", type=int, default=16)
    p.add_argument("--batch-sizes", default="1,32", help="comma-separated max_batch_size values")
    p.add_argument("--window-ms", type=float, default=5.0, help="batch window (batch_window_ms)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--via-app", action="store_true", help="send requests through the FastAPI app (ASGI)")
    p.add_argument("--backend", default="auto", choices=["auto", "onnx", "eager"], help="decode step backend")
    p.add_argument("--json", type=Path, help="also write the results here as JSON")


def model_directory(args: argparse.Namespace) -> Path:
    if args.model_dir is not None:
        return args.model_dir
    cache = args.cache_dir or Settings().model_cache_dir
    arch = dict(LARGE_ARCH) if args.large else None
    if args.n_layer or args.n_embd or args.n_head:
        from sidecar.engine.model_builder import DEFAULT_ARCH

        arch = dict(arch or DEFAULT_ARCH)
        for key in ("n_layer", "n_embd", "n_head"):
            if getattr(args, key):
                arch[key] = getattr(args, key)
    if arch is None:
        return ensure_default_model("hermes", cache)
    return ensure_default_model("bench", cache, arch=arch)


async def drive(call: Any, clients: int, total: int, max_new: int) -> tuple[float, list[float], int]:
    """``clients`` workers issue ``total`` calls between them; returns wall time, latencies, tokens."""
    latencies: list[float] = []
    tokens = 0
    remaining = total

    async def client(i: int) -> None:
        nonlocal remaining, tokens
        n = 0
        while remaining > 0:
            remaining -= 1
            t0 = time.perf_counter()
            got = await call(f"{PROMPTS[(i + n) % len(PROMPTS)]} (client {i}, request {n})", max_new)
            tokens += got  # (not `tokens += await ...`: that reads `tokens` before the await)
            latencies.append(time.perf_counter() - t0)
            n += 1

    start = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    return time.perf_counter() - start, latencies, tokens


async def measure_runner(directory: Path, batch: int, args: argparse.Namespace) -> dict[str, Any]:
    metrics = SidecarMetrics()
    runner = ModelRunner("hermes", directory, device=args.device, max_batch_size=batch,
                         batch_window_ms=args.window_ms, max_queue=max(64, args.clients * 2), metrics=metrics,
                         backend=args.backend, cpu_threads=args.threads,
                         export_cache_dir=(args.cache_dir or Settings().model_cache_dir).parent / "onnx")
    await runner.start()
    try:
        async def call(prompt: str, max_new: int) -> int:
            return (await runner.generate(prompt, max_new)).completion_tokens

        await drive(call, args.clients, args.clients, args.max_new_tokens)  # warm-up
        batches0, served0 = runner.batches_run, runner.requests_served
        wall, lat, tokens = await drive(call, args.clients, args.requests, args.max_new_tokens)
        batches, served = runner.batches_run - batches0, runner.requests_served - served0
    finally:
        await runner.stop()
    return {**summarize(batch, wall, lat, tokens, served / max(batches, 1)), "backend": runner.backend}


async def measure_app(directory: Path, batch: int, args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    from sidecar.api.app import create_app

    settings = Settings(hermes_model_dir=directory, phi3_model_dir=directory, device=args.device,
                        max_batch_size=batch, batch_window_ms=args.window_ms,
                        max_queue=max(64, args.clients * 2), redis_url=None, decode_backend=args.backend,
                        cpu_threads=args.threads or 0,
                        model_cache_dir=args.cache_dir or Settings().model_cache_dir)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as client:
            async def call(prompt: str, max_new: int) -> int:
                r = await client.post("/generate/", json={"prompt": prompt, "model_id": "hermes",
                                                          "max_length": max_new})
                r.raise_for_status()
                return int(r.json().get("usage", {}).get("completion_tokens", max_new))

            await drive(call, args.clients, args.clients, args.max_new_tokens)
            runner = app.state.runners["hermes"]
            batches0, served0 = runner.batches_run, runner.requests_served
            wall, lat, tokens = await drive(call, args.clients, args.requests, args.max_new_tokens)
            mean_batch = (runner.requests_served - served0) / max(runner.batches_run - batches0, 1)
            backend = runner.backend
    return {**summarize(batch, wall, lat, tokens, mean_batch), "backend": backend}


def summarize(batch: int, wall: float, lat: list[float], tokens: int, mean_batch: float) -> dict[str, Any]:
    lat = sorted(lat)
    cores = torch.get_num_threads()  # the runner's compute threads (torch and ONNX Runtime alike)
    return {
        "cores": cores,
        "tokens_per_s_per_core": round(tokens / wall / cores, 1),
        "max_batch_size": batch,
        "requests": len(lat),
        "seconds": round(wall, 3),
        "requests_per_s": round(len(lat) / wall, 2),
        "tokens_per_s": round(tokens / wall, 1),
        "mean_batch": round(mean_batch, 2),
        "p50_ms": round(1000 * statistics.median(lat), 1),
        "p95_ms": round(1000 * lat[min(len(lat) - 1, int(0.95 * len(lat)))], 1),
    }


def main(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    if device.startswith("cuda") and not torch.cuda.is_available():
        print(f"--device {args.device}: CUDA is not available on this machine; nothing measured (skipped).")
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    directory = model_directory(args)
    sizes = [int(s) for s in args.batch_sizes.split(",") if s.strip()]
    measure = measure_app if args.via_app else measure_runner
    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") else None
    print(f"model: {directory}\ndevice: {device}{f' ({gpu})' if gpu else ''}; torch threads: "
          f"{torch.get_num_threads()}; mode: {'FastAPI app over ASGI' if args.via_app else 'in-process runner'}")
    print(f"{args.clients} concurrent clients, {args.requests} requests of max_new_tokens={args.max_new_tokens}")
    results = [asyncio.run(measure(directory, b, args)) for b in sizes]
    header = (f"{'max_batch_size':>14} {'req/s':>8} {'tok/s':>8} {'tok/s/core':>10} {'mean batch':>10} "
              f"{'p50 ms':>8} {'p95 ms':>8}")
    print(header)
    for r in results:
        print(f"{r['max_batch_size']:>14} {r['requests_per_s']:>8} {r['tokens_per_s']:>8} "
              f"{r['tokens_per_s_per_core']:>10} {r['mean_batch']:>10} {r['p50_ms']:>8} {r['p95_ms']:>8}")
    ratio = results[-1]["requests_per_s"] / results[0]["requests_per_s"] if len(results) > 1 else 1.0
    print(f"decode backend: {results[0]['backend']}")
    if len(results) > 1:
        print(f"throughput ratio (batch {sizes[-1]} vs batch {sizes[0]}): {ratio:.1f}x")
    if args.json:
        args.json.write_text(json.dumps({
            "device": device, "gpu": gpu, "model_dir": str(directory), "via_app": args.via_app,
            "clients": args.clients, "max_new_tokens": args.max_new_tokens, "platform": platform.platform(),
            "results": results, "ratio": round(ratio, 2),
        }, indent=2) + "\n")
    return 0
