"""callhook.core imports only the standard library and itself, and no I/O module of it."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "src" / "callhook" / "core"
# stdlib modules that do I/O, keep time or run concurrently: adapters' business
FORBIDDEN = {
    "asyncio",
    "socket",
    "ssl",
    "select",
    "selectors",
    "sqlite3",
    "logging",
    "subprocess",
    "threading",
    "multiprocessing",
    "http",
    "urllib.request",
    "time",
    "shutil",
    "tempfile",
    "signal",
    "pathlib",
}


def imports(path: Path) -> list[str]:
    out: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append(node.module)
    return out


def test_core_imports_only_stdlib_and_itself() -> None:
    files = sorted(CORE.rglob("*.py"))
    assert len(files) > 10
    bad: list[str] = []
    for f in files:
        for name in imports(f):
            top = name.split(".")[0]
            if name.startswith("callhook.core") or name == "callhook.core":
                continue
            banned = any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
            if top not in sys.stdlib_module_names or banned or top == "callhook":
                bad.append(f"{f.relative_to(CORE)}: {name}")
    assert bad == []


def test_core_reads_no_environment_or_clock() -> None:
    for f in CORE.rglob("*.py"):
        text = f.read_text()
        for needle in ("os.environ", "getenv(", "datetime.now(", "time.time(", "open("):
            assert needle not in text, f"{f.relative_to(CORE)} uses {needle}"
