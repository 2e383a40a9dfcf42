"""The Redis side of proposals: a durable audit log (a Stream) plus pub/sub notifications.

One MULTI/EXEC per proposal, with no client-side retries: a proposal is either stored and
published once, or the caller gets ``BusUnavailable`` and answers 503 (never a 200 for something
that was not stored, never a duplicate entry from a retried write).
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from sidecar.infra.metrics import SidecarMetrics

CHANNEL_CREATED = "phi3.proposal.created"
CHANNEL_ASSESSED = "phi3.proposal.assessed"


class BusUnavailable(RuntimeError):
    """Redis could not take the write; nothing was acknowledged."""


def redact_url(url: str) -> str:
    """Hide a password in a Redis URL before it is shown in /health or logs."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"


class ProposalBus:
    def __init__(self, url: str, stream: str, metrics: SidecarMetrics | None = None, timeout_s: float = 2.0):
        self.url = url
        self.stream = stream
        self.metrics = metrics
        self.client = aioredis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry=Retry(NoBackoff(), 0),
        )
        self.last_error: str | None = None

    async def ping(self) -> bool:
        """PING with the client's timeout; remembers the last error for /health."""
        try:
            await self.client.ping()
        except (RedisError, OSError) as exc:
            self._failed("ping", exc)
            return False
        self.last_error = None
        return True

    async def record(self, transaction_id: str, prompt: str, proposal: dict[str, Any], assessment: str) -> str:
        """Append to the stream and publish both events atomically; returns the stream entry id."""
        now = time.time()
        proposal_json = json.dumps(proposal, separators=(",", ":"))
        created = json.dumps({"transaction_id": transaction_id, "timestamp": now, "proposal": proposal})
        assessed = json.dumps({"transaction_id": transaction_id, "timestamp": now, "proposal": proposal,
                               "assessment": assessment})
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.xadd(self.stream, {
                    "transaction_id": transaction_id, "timestamp": repr(now), "prompt": prompt,
                    "proposal": proposal_json, "assessment": assessment,
                })
                pipe.publish(CHANNEL_CREATED, created)
                pipe.publish(CHANNEL_ASSESSED, assessed)
                entry_id, _, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            self._failed("record", exc)
            raise BusUnavailable(f"Redis could not store the proposal: {exc.__class__.__name__}: {exc}") from exc
        self.last_error = None
        if self.metrics:
            self.metrics.proposals.inc()
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    def _failed(self, operation: str, exc: BaseException) -> None:
        self.last_error = f"{exc.__class__.__name__}: {exc}"
        if self.metrics:
            self.metrics.redis_errors.labels(operation).inc()

    async def close(self) -> None:
        await self.client.aclose()
