# The bundled sidecar: the same package and lock the Makefile installs, with the model extra (CPU torch).
FROM python:3.11.10-slim-bookworm
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1
WORKDIR /app
# Dependencies first, pinned by the lock (torch from PyTorch's CPU index when it answers): cached
# across source changes.
COPY pyproject.toml requirements.lock README.md ./
COPY tools/deps.py ./tools/
RUN python tools/deps.py install sidecar --no-editable
COPY sidecar ./sidecar
COPY osiris_load ./osiris_load
COPY locustfiles ./locustfiles
COPY slo_locust ./slo_locust
RUN pip install --no-deps --force-reinstall . && useradd --create-home --uid 10001 osiris
USER osiris
# Build the default models at image build time (into the user's cache) so a container starts fast and offline.
RUN python -c "from sidecar.engine.model_builder import ensure_default_model; from sidecar.infra.settings import Settings; \
[ensure_default_model(m, Settings().model_cache_dir) for m in ('hermes', 'phi3')]"
ENV OSIRIS_HOST=0.0.0.0 OSIRIS_PORT=8000
EXPOSE 8000
CMD ["python", "-m", "sidecar"]
