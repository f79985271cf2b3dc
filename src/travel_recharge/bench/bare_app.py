"""The ceiling of a FastAPI endpoint on this machine: one GET, a small JSON, nothing else."""

from __future__ import annotations

from fastapi import FastAPI

# Imports nothing of ours: the worker should weigh what a bare FastAPI worker weighs.
BARE_PATH = "/bare"


def create_bare_app() -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get(BARE_PATH)
    async def bare() -> dict[str, str]:
        """A small constant answer: what FastAPI and uvicorn cost without any of our work."""
        return {"status": "ok"}

    return app
