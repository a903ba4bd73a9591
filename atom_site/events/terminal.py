"""A live progress bar in the terminal, fed by a subject's persisted events (`events_follow`):
`manage.py workflows run --watch` and `manage.py envs ensure` draw it on stderr."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from atom_site.events.read import events_follow
from atom_site.events.record import Subject

STEP_DONE = frozenset({"succeeded", "failed", "skipped", "cancelled"})
LAST_LINE_CHARS = 60


@dataclass
class Followed:
    """What a follow saw: events by kind, log lines, the last status, the seconds it took."""

    events: int = 0
    log_lines: int = 0
    status: str = ""
    seconds: float = 0.0
    kinds: dict[str, int] = field(default_factory=dict)


def progress_follow(
    subject: Subject,
    *,
    title: str,
    total: int | None = None,
    console: Console | None = None,
    timeout: float | None = None,
    is_done: Callable[[], bool] | None = None,
    is_printing_lines: bool = False,
) -> Followed:
    """Draw a bar for `subject` until its final event: the steps finished out of `total` for
    a run, a spinner for an install; the latest state or log line beside it."""
    console = console or Console(stderr=True)
    followed = Followed()
    started = time.monotonic()
    count = MofNCompleteColumn() if total else TextColumn("")
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), count]
    columns += [TimeElapsedColumn(), TextColumn("{task.fields[latest]}")]
    done: set[str] = set()
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(escape(title), total=total, latest="")
        for event in events_follow(subject, timeout=timeout, is_done=is_done):
            followed.events += 1
            kind = event["kind"]
            followed.kinds[kind] = followed.kinds.get(kind, 0) + 1
            if kind == "log":
                followed.log_lines += len(event["lines"])
                if is_printing_lines:
                    for line in event["lines"]:
                        progress.console.print(line, markup=False, highlight=False)
                latest = event["lines"][-1][:LAST_LINE_CHARS] if event["lines"] else ""
            elif kind == "step":
                if event["status"] in STEP_DONE:
                    done.add(event["step"])
                latest = f"{event['step']}: {event['status']}"
            else:
                followed.status = event["status"]
                latest = event["status"]
            progress.update(task, completed=len(done), latest=escape(latest))
        if total and followed.status == "succeeded":
            progress.update(task, completed=total)
    followed.seconds = time.monotonic() - started
    return followed
