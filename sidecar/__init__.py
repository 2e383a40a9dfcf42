"""The bundled Osiris LLM sidecar: a FastAPI model runner with real Redis, for load tests to aim at."""
