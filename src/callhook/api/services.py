"""The API's typed view of the running services: the composition root's
:class:`~callhook.bootstrap.Hub`, as every route reaches it (``hub_of(request)``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request

if TYPE_CHECKING:
    from callhook.bootstrap import Hub

__all__ = ["app_hub", "hub_of"]


def hub_of(request: Request) -> Hub:
    """The services of the process a request came to (set once by ``create_app``)."""
    return app_hub(request.app)


def app_hub(app: FastAPI) -> Hub:
    hub: Hub = app.state.hub
    return hub
