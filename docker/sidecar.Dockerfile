# The bundled sidecar: the same package and constraints the Makefile installs, with the model extra.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY sidecar ./sidecar
COPY slo ./slo
COPY slo_locust ./slo_locust
COPY locustfiles ./locustfiles
COPY reports ./reports
COPY suite ./suite
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu -c constraints.txt '.[sidecar]'
# Build the default models at image build time so a container starts fast and offline.
RUN python -c "from sidecar.model_builder import ensure_default_model; from sidecar.settings import Settings; \
[ensure_default_model(m, Settings().model_cache_dir) for m in ('hermes', 'phi3')]"
ENV OSIRIS_HOST=0.0.0.0 OSIRIS_PORT=8000
EXPOSE 8000
CMD ["python", "-m", "sidecar"]
