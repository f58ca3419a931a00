"""The HTTP API (FastAPI): one module per resource; ``app.create_app(hub)`` builds it."""
