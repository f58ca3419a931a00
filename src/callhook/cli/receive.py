"""``callhook receive``: a debug webhook receiver that prints every request it gets.

Each request: method, path, headers (secret values redacted), the body (JSON
indented, forms as ``name = value``), the dialect it looks like and the canonical
event it decodes to, the signature check (``--secret``) and the HTTP Basic user.
``--status``, ``--fail-rate`` (with ``--seed``) and ``--delay`` make it misbehave on
purpose, to watch callhook retry. Stops on Ctrl-C, SIGTERM or after ``--duration``,
printing a summary.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from callhook.config import Config
from callhook.core.subscription import Dialect

if TYPE_CHECKING:
    from rich.console import Console

    from callhook.receiver import Received

__all__ = ["add_parser", "format_body", "run"]

MAX_BODY_SHOWN = 8 * 1024


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "receive",
        help="a debug webhook receiver that prints what it gets",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=9000, help="port (default 9000; 0: any free port)")
    p.add_argument("--status", type=int, default=200, help="HTTP status to answer (default 200)")
    p.add_argument(
        "--fail-rate", type=float, default=0.0, help="answer --fail-status to this share of requests at random (0..1)"
    )
    p.add_argument("--fail-status", type=int, default=500, help="the status of a random failure (default 500)")
    p.add_argument("--seed", type=int, default=None, help="seed of the random failures (repeatable runs)")
    p.add_argument("--delay", type=float, default=0.0, help="seconds to wait before answering")
    p.add_argument("--secret", default="", help="verify Standard Webhooks signatures with this secret")
    p.add_argument(
        "--dialect",
        choices=[d.value for d in Dialect],
        help="decode every request in this dialect (default: by its shape)",
    )
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--quiet", action="store_true", help="one line per request, no headers or body")
    p.set_defaults(func=run)


def format_body(rec: Received) -> str:
    """The body for a human: JSON indented, a form (or a GET's query) as name = value lines."""
    body = rec.body[:MAX_BODY_SHOWN]
    if body.lstrip().startswith((b"{", b"[")):
        try:
            return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
        except ValueError:
            pass
    text = body.decode("utf-8", "replace")
    query = urlsplit(rec.path).query
    source = text if text and "=" in text and "\n" not in text else ("" if text else query)
    if source:
        pairs = parse_qsl(source, keep_blank_values=True)
        if pairs:
            return "\n".join(f"{k} = {v}" for k, v in pairs)
    return text + (" ..." if len(rec.body) > MAX_BODY_SHOWN else "")


class Printer:
    def __init__(self, console: Console, quiet: bool) -> None:
        self.console = console
        self.quiet = quiet

    def __call__(self, rec: Received) -> None:
        from rich.text import Text

        from callhook.receiver import describe

        head = Text(f"#{rec.n} ", style="bold")
        head.append(f"{rec.method} {rec.path}", style="bold cyan")
        head.append(f"  -> {rec.status}", style="green" if 200 <= rec.status < 300 else "bold red")
        head.append(f"  {rec.dialect or 'unknown dialect'}", style="magenta")
        if rec.signature:
            head.append(f"  signature {rec.signature}", style="green" if rec.signature == "OK" else "red")
        if rec.auth:
            head.append(f"  auth {rec.auth}")
        decoded = None
        if rec.event is not None:
            decoded = Text(f"  = {describe(rec.event)}", style="yellow")
        elif rec.error:
            decoded = Text(f"  ! {rec.error}", style="red")
        if self.quiet:  # one line per request: the head and what it decodes to
            if decoded is not None:
                head.append_text(decoded)
            self.console.print(head)
            return
        self.console.print(head)
        if decoded is not None:
            self.console.print(decoded)
        for k, v in rec.headers:
            self.console.print(Text(f"  {k}: {v}", style="dim"))
        body = format_body(rec)
        if body:
            self.console.print(Text("  " + body.replace("\n", "\n  ")))
        self.console.print()


async def receive(args: argparse.Namespace, console: Console) -> int:
    from rich.text import Text

    from callhook.cli.lifetime import Lifetime
    from callhook.receiver import Behaviour, Receiver

    try:
        behaviour = Behaviour(
            status=args.status, fail_rate=args.fail_rate, fail_status=args.fail_status, delay=args.delay, seed=args.seed
        )
    except ValueError as exc:
        print(f"callhook receive: {exc}", file=sys.stderr)
        return 2
    receiver = Receiver(
        behaviour, secret=args.secret, dialect=args.dialect or "", on_request=Printer(console, args.quiet)
    )
    try:
        await receiver.start(args.host, args.port)
    except OSError as exc:
        print(f"callhook receive: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    how = f"answering {behaviour.status}"
    if behaviour.fail_rate:
        how += f", {behaviour.fail_status} to {behaviour.fail_rate:.0%} at random"
    if behaviour.delay:
        how += f", after {behaviour.delay:g}s"
    console.print(
        Text(
            f"receive: listening on {receiver.url} ({how}; signatures "
            f"{'verified' if args.secret else 'not verified'}); Ctrl-C to stop"
        )
    )
    try:
        async with Lifetime(args.duration) as life:
            await life.stopping.wait()
    finally:
        await receiver.close()
    console.print(Text(f"receive: {receiver.summary()}"))
    return 0


def run(cfg: Config, args: argparse.Namespace) -> int:
    from rich.console import Console

    from callhook.cli.main import run_async

    console = Console(highlight=False, soft_wrap=True)
    return run_async(receive(args, console))
