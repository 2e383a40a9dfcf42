"""The sidecar's HTTP layer: the FastAPI app factory, its thin routers (Osiris's routes and the
OpenAI-compatible ones), request and response schemas, middleware."""
