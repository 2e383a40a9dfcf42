# The load tester, one image for every Locust service (master, workers, headless): no torch, no pandas.
FROM python:3.11.10-slim-bookworm
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1
WORKDIR /app
# Dependencies first, pinned by the lock: this layer is rebuilt only when they change, not the sources.
COPY pyproject.toml requirements.lock README.md ./
COPY tools/deps.py ./tools/
RUN python tools/deps.py install --no-editable
# Then the sources, without touching the dependencies.
COPY sidecar ./sidecar
COPY osiris_load ./osiris_load
COPY locustfiles ./locustfiles
COPY slo_locust ./slo_locust
RUN pip install --no-deps --force-reinstall . \
 && useradd --create-home --uid 10001 osiris \
 && mkdir -p /app/osiris-runs && chown osiris /app/osiris-runs
USER osiris
ENTRYPOINT ["locust"]
