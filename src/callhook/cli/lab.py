"""The demo PBX shipped with the package: the lab's directory and its AMI credentials.

``demo_directory.json`` (package data, next to this module) has the shape of the
lab's ``lab-directory.json``: extensions, trunks, queues, DIDs, and an ``ami``
section with the user name and secret that ``callhook demo`` gives both its
simulator and its hub, and that ``callhook simulate`` accepts by default.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from callhook.config import ConfigError
from callhook.core.directory import Directory, DirectoryError

__all__ = ["DIRECTORY_RESOURCE", "Lab", "free_port", "lab", "port_free"]

DIRECTORY_RESOURCE = "demo_directory.json"


@dataclass(frozen=True, slots=True)
class Lab:
    directory: Directory
    text: str  # the directory file as shipped (or as read from --directory)
    username: str
    secret: str


def _parse(text: str, where: str) -> Lab:
    try:
        data: Any = json.loads(text)
        directory = Directory.from_mapping(data)
    except (ValueError, DirectoryError) as exc:
        raise ConfigError(f"directory {where}: {exc}") from None
    ami = data.get("ami") if isinstance(data, dict) else None
    ami = ami if isinstance(ami, dict) else {}
    return Lab(directory, text, str(ami.get("username", "lab")), str(ami.get("secret", "labsecret")))


def lab(path: str = "") -> Lab:
    """The packaged demo PBX, or the JSON directory file at ``path``."""
    if path:
        try:
            return _parse(Path(path).read_text(encoding="utf-8"), path)
        except OSError as exc:
            raise ConfigError(f"directory {path}: {exc.strerror}") from None
    text = resources.files("callhook.cli").joinpath(DIRECTORY_RESOURCE).read_text(encoding="utf-8")
    return _parse(text, f"(packaged {DIRECTORY_RESOURCE})")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (for a server that must know its port in advance)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def port_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True
