"""Sidecar settings: one object, read from the environment (and an optional .env-style file).

Kept in one place so that the app factory, the launcher and the tests agree on every knob.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MODEL_IDS: tuple[str, ...] = ("hermes", "phi3")
# Routes fault injection can target; "*" targets them all.
FAULT_ROUTES: tuple[str, ...] = ("/generate", "/propose_trade_adjustments", "/health", "/metrics",
                                 "/v1/completions", "/v1/chat/completions", "*")


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "osiris-load" / "models"


class Settings(BaseSettings):
    """Every setting has an environment variable: ``OSIRIS_<NAME>`` (``REDIS_URL`` for Redis)."""

    model_config = SettingsConfigDict(env_prefix="OSIRIS_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 8000

    # Redis: when unset, the launcher starts a redis-server of its own on loopback.
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "OSIRIS_REDIS_URL"))
    proposal_stream: str = "osiris:proposals"

    # Models: a directory each (anything AutoModelForCausalLM.from_pretrained loads); when unset,
    # a small random-weight GPT-2 style model is built offline into model_cache_dir on first use.
    hermes_model_dir: Path | None = None
    phi3_model_dir: Path | None = None
    model_cache_dir: Path = Field(default_factory=default_cache_dir)
    device: str = "auto"  # "auto" picks CUDA when present, else CPU
    # Decode step: "auto" runs the model's step exported to ONNX Runtime on CPU (exported once per model
    # into export_cache_dir) and falls back to eager torch when the export cannot take the model or the
    # device is a GPU; "onnx" requires the fast path; "eager" never exports.
    decode_backend: Literal["auto", "onnx", "eager"] = "auto"
    export_cache_dir: Path | None = None  # default: beside model_cache_dir, in "onnx"
    # torch CPU threads for the whole process. 1 keeps latency steady when the load generator shares
    # the machine (the default set-up); 0 lets torch choose (more cores for a big model on a big CPU).
    cpu_threads: int = Field(default=1, ge=0)

    # Dynamic batching and admission control.
    max_batch_size: int = Field(default=16, ge=1, le=256)
    batch_window_ms: float = Field(default=5.0, ge=0, le=1000)
    max_queue: int = Field(default=64, ge=1)

    # Optional API key: when set, POST routes need it in the X-API-Key header (401 otherwise).
    api_key: SecretStr | None = None

    # Input limits (422 beyond them).
    max_prompt_bytes: int = Field(default=8192, ge=1)
    max_body_bytes: int = Field(default=65536, ge=1024)  # 413 beyond it

    # Fault injection for testing SLO gates: off by default, shown in /health.
    # Keys are routes from FAULT_ROUTES; e.g. OSIRIS_FAULT_LATENCY_MS='{"/generate": 300}'.
    fault_latency_ms: dict[str, float] = Field(default_factory=dict)
    fault_error_rate: dict[str, float] = Field(default_factory=dict)
    fault_status: int = Field(default=500, ge=400, le=599)

    @field_validator("fault_latency_ms", "fault_error_rate")
    @classmethod
    def _known_routes(cls, value: dict[str, float]) -> dict[str, float]:
        for route, amount in value.items():
            if route not in FAULT_ROUTES:
                raise ValueError(f"unknown route {route!r} (valid: {', '.join(FAULT_ROUTES)})")
            if amount < 0:
                raise ValueError(f"{route}: must not be negative")
        return value

    @field_validator("fault_error_rate")
    @classmethod
    def _rates(cls, value: dict[str, float]) -> dict[str, float]:
        for route, rate in value.items():
            if rate > 1:
                raise ValueError(f"{route}: an error rate is between 0 and 1, got {rate}")
        return value

    def export_dir(self) -> Path:
        """Where exported decode steps are cached (keyed by model content, shared by all processes)."""
        return self.export_cache_dir or self.model_cache_dir.parent / "onnx"

    def model_dir(self, model_id: str) -> Path | None:
        return {"hermes": self.hermes_model_dir, "phi3": self.phi3_model_dir}[model_id]


class SettingsError(ValueError):
    """Settings the sidecar cannot start with (its launcher exits 2): one line saying which and why."""


def _variable(loc: tuple[int | str, ...]) -> str:
    """The environment variable a validation error's field is read from (``OSIRIS_MAX_BATCH_SIZE``)."""
    field = str(loc[0]) if loc else ""
    name = f"OSIRIS_{field.upper()}" if field in Settings.model_fields else field
    return ".".join([name, *map(str, loc[1:])])


def load_checked(**kwargs: object) -> Settings:
    """``Settings(**kwargs)`` (the environment, an ``_env_file``, overrides) and the model directories
    they name: what the launcher checks before it binds a port or starts Redis. ``osiris-load run``
    checks the same before it starts the bundled sidecar (``osiris_load.jobs.preflight``): one rule, one message."""
    try:
        settings = Settings(**kwargs)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(f"{_variable(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise SettingsError(f"bad settings: {problems}") from None
    for model_id in MODEL_IDS:
        directory = settings.model_dir(model_id)
        if directory is not None and not (directory / "config.json").is_file():
            raise SettingsError(f"model directory for {model_id!r} ({directory}) does not exist or has no config.json")
    return settings
