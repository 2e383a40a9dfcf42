# The load tester: the package without the model stack (no torch).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY sidecar ./sidecar
COPY slo ./slo
COPY slo_locust ./slo_locust
COPY locustfiles ./locustfiles
COPY reports ./reports
COPY suite ./suite
RUN pip install --no-cache-dir -c constraints.txt .
ENTRYPOINT ["locust"]
