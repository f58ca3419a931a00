"""The API's typed view of the running services: the composition root's
:class:`~callhook.bootstrap.Hub`, as every route reaches it (``hub_of(request)``), and
the choice of a PBX for a request (``?pbx=`` / ``"pbx"``, docs/api.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import FastAPI, HTTPException, Query, Request

if TYPE_CHECKING:
    from callhook.bootstrap import Hub
    from callhook.pbx_link import PbxLink

__all__ = ["PbxFilter", "app_hub", "hub_of", "pbx_for", "pbxes_of"]

PBX_NAME = r"^\S(.{0,62}\S)?$"
#: the ``pbx`` query parameter of the routes that can be narrowed to one PBX
PbxFilter = Annotated[
    str | None, Query(min_length=1, max_length=64, description="only this PBX (its name in the config)")
]


def hub_of(request: Request) -> Hub:
    """The services of the process a request came to (set once by ``create_app``)."""
    return app_hub(request.app)


def app_hub(app: FastAPI) -> Hub:
    hub: Hub = app.state.hub
    return hub


def pbxes_of(hub: Hub, pbx: str | None) -> tuple[PbxLink, ...]:
    """The PBXs a read covers: all of them, or the one named (404 for a name not configured)."""
    if pbx is None:
        return hub.pbxes
    link = hub.pbx_named(pbx)
    if link is None:
        raise HTTPException(status_code=404, detail=f"no PBX named {pbx!r} is configured")
    return (link,)


def pbx_for(hub: Hub, pbx: str, exten: str = "") -> PbxLink:
    """The PBX an action goes to: the one named, else the first whose directory has
    ``exten``, else the first. 404 for a name not configured, 503 without any PBX."""
    if pbx:
        return pbxes_of(hub, pbx)[0]
    if not hub.pbxes:
        raise HTTPException(status_code=503, detail="no PBX is configured (callhook serve --ami)")
    if exten:
        for link in hub.pbxes:
            if link.directory.extension(exten) is not None:
                return link
    return hub.pbxes[0]
