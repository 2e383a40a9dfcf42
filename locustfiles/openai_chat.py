"""Any OpenAI-compatible server under load: streamed chat completions, measured token by token.

``locust -f locustfiles/openai_chat.py --host URL`` (the bundled sidecar, vLLM, TGI, Ollama, a hosted
API with ``OPENAI_API_KEY``). Each iteration streams one answer: one Locust request
(``POST /v1/chat/completions``, its end-to-end latency), and its TTFT, every inter-token gap and TPOT
to the SLO gate (the ``llm_*`` keys), see ``osiris_load/adapter/llm_user.py`` and ``docs/llm-metrics.md``.
Options: ``--model``, ``--max-tokens``, ``--endpoint chat|completions``, ``--llm-prompts FILE`` or
``--input-tokens N``, ``--ignore-eos``, ``--stream-timeout``. Judge with ``--slo-file osiris_load/core/slo/llm.toml``.

Default ramp: 10s -> 4 users, 30s at 4, 5s -> 0, 1 s think time (as every scenario); override with
``--stages``, ``--no-shape`` with ``-u/-t``, or the open model (``--arrival-rate``).
"""

from __future__ import annotations

from locust import task

from osiris_load.adapter.llm_user import LlmUser
from osiris_load.adapter.users import SHAPE_ENABLED

DEFAULT_STAGES = "10s:4,30s:4,5s:0"


class OpenAIChatUser(LlmUser):
    """One iteration: one streamed completion."""

    # No slo_rows: every row of the table given is judged (llm.toml rows include k6-style
    # keys, whose row names are the keys themselves).

    @task
    def stream_completion(self) -> None:
        self.stream_answer()


if SHAPE_ENABLED:
    from osiris_load.adapter.shape import StagesShape

    class OpenAIChatShape(StagesShape):
        """Ramp unless ``--stages`` says otherwise."""

        default_stages = DEFAULT_STAGES
