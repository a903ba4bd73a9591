"""Reading live events back: by the websockets (a snapshot, a replay after a sequence number,
gaps filled), the HTTP endpoints and the terminal's progress bars.

Each subject kind knows its row, its current state, when it is finished, and who may follow
it (`SubjectKind`). The snapshot's `seq` is read before its state, so the state is at least as
new as the events up to `seq`; the events after it that the state already shows set what is
already set (events carry states, not differences).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Model

from atom_site.events.record import Subject
from atom_site.models import ApiKey, Event, EventStream
from skills.models import InstallJob, InstallJobStatus, SkillRun, SkillRunStatus
from workflows.models import RUN_FINISHED, StepRun, WorkflowRun

HTTP_PAGE_LIMIT = 500


def events_after(subject: Subject, *, after: int = 0, limit: int | None = None) -> list[dict]:
    """The subject's events with `seq` > `after`, in order (at most `limit`)."""
    events = Event.objects.filter(
        subject=subject.kind, subject_id=subject.pk, seq__gt=after
    ).order_by("seq")
    if limit is not None:
        events = events[:limit]
    return [event.as_message() for event in events]


def last_seq(subject: Subject) -> int:
    found = (
        EventStream.objects.filter(subject=subject.kind, subject_id=subject.pk)
        .values_list("last_seq", flat=True)
        .first()
    )
    return found or 0


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def _at(value) -> str | None:
    return value.isoformat() if value is not None else None


# Subject kinds ---------------------------------------------------------------------------------


def _run_state(run: WorkflowRun) -> dict[str, Any]:
    steps = StepRun.objects.filter(run_id=run.pk).select_related("skill").order_by("index")
    return {
        "run": {
            "id": run.pk,
            "workflow": run.workflow.slug,
            "status": run.status,
            "error": run.error_type,
            "error_message": run.error_message,
            "created_at": _at(run.created_at),
            "started_at": _at(run.started_at),
            "finished_at": _at(run.finished_at),
        },
        "steps": [
            {
                "step": step.step_id,
                "index": step.index,
                "skill": step.skill.slug,
                "status": step.status,
                "attempt": step.attempt,
                "duration_ms": _ms(step.duration_seconds),
                "is_cached": step.is_cached,
                "error": step.error_type,
            }
            for step in steps
        ],
    }


def _install_state(job: InstallJob) -> dict[str, Any]:
    return {
        "install": {
            "id": job.pk,
            "status": job.status,
            "error": job.error,
            "environment": job.environment.key,
            "created_at": _at(job.created_at),
            "started_at": _at(job.started_at),
            "finished_at": _at(job.finished_at),
        }
    }


def _skill_run_state(run: SkillRun) -> dict[str, Any]:
    return {
        "skill_run": {
            "id": run.pk,
            "skill": run.skill.slug,
            "status": run.status,
            "error": run.error_type,
            "created_at": _at(run.created_at),
            "started_at": _at(run.started_at),
            "finished_at": _at(run.finished_at),
        }
    }


@dataclass(frozen=True)
class SubjectKind:
    name: str
    load: Callable[[int], Model | None]
    state: Callable[[Any], dict[str, Any]]
    finished_statuses: tuple[str, ...]
    # Who started it (its owner and staff may follow it); None: any signed-in user may.
    owner_field: str | None

    def is_finished(self, row: Any) -> bool:
        return row.status in self.finished_statuses

    def is_final_event(self, event: dict) -> bool:
        return event.get("kind") == self.name and event.get("status") in self.finished_statuses


SUBJECT_KINDS: dict[str, SubjectKind] = {
    "run": SubjectKind(
        "run",
        lambda pk: WorkflowRun.objects.select_related("workflow").filter(pk=pk).first(),
        _run_state,
        tuple(RUN_FINISHED),
        "requested_by_id",
    ),
    "install": SubjectKind(
        "install",
        lambda pk: InstallJob.objects.select_related("environment").filter(pk=pk).first(),
        _install_state,
        (InstallJobStatus.SUCCEEDED, InstallJobStatus.FAILED),
        None,
    ),
    "skill_run": SubjectKind(
        "skill_run",
        lambda pk: SkillRun.objects.select_related("skill").filter(pk=pk, is_queued=True).first(),
        _skill_run_state,
        (SkillRunStatus.SUCCEEDED, SkillRunStatus.FAILED),
        "requested_by_id",
    ),
}


class FollowRefused(Exception):
    """The credentials may not follow this subject (a 403, or a websocket closed 4403)."""


def follow_check(kind: SubjectKind, row: Any, *, user, key: ApiKey | None) -> None:
    """Raise FollowRefused unless `user` (signed in with `key`, if any) may read `row`'s events:
    a key needs the `read` scope, a key bound to an agent sees only its agent's subjects, and
    runs are their requester's (and staff's)."""
    if key is not None:
        if "read" not in key.scopes:
            raise FollowRefused("this key lacks the 'read' scope")
        if key.agent_id is not None and getattr(row, "agent_id", None) != key.agent_id:
            raise FollowRefused("this key's agent did not start this")
    if kind.owner_field and getattr(row, kind.owner_field) != user.pk and not user.is_staff:
        raise FollowRefused("only the user who started it, or staff, may follow it")


def snapshot(kind: SubjectKind, subject: Subject, row: Any) -> dict[str, Any]:
    """{"type": "snapshot", "seq": …, …the current state}: `seq` read first (see above)."""
    seq = last_seq(subject)
    row = kind.load(subject.pk) or row
    return {"type": "snapshot", "seq": seq, **kind.state(row)}


def events_page(
    kind: SubjectKind, subject: Subject, row: Any, *, after: int, limit: int
) -> dict[str, Any]:
    """The HTTP page: {"items", "next_after", "finished"}; `finished` once the subject is and
    this page holds its last event."""
    limit = max(1, min(limit, HTTP_PAGE_LIMIT))
    is_finished = kind.is_finished(row)  # read before the events: none can follow it then
    items = events_after(subject, after=after, limit=limit)
    next_after = items[-1]["seq"] if items else after
    return {
        "items": items,
        "next_after": next_after,
        "finished": is_finished and next_after >= last_seq(subject),
    }


def events_follow(
    subject: Subject,
    *,
    after: int = 0,
    poll_seconds: float = 0.1,
    timeout: float | None = None,
    is_done: Callable[[], bool] | None = None,
) -> Iterator[dict]:
    """Yield the subject's events as they are written (polling the table: no channel layer
    needed), until its final event, `timeout` seconds, or `is_done()` with nothing left."""
    kind = SUBJECT_KINDS[subject.kind]
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        stopping = is_done is not None and is_done()
        events = events_after(subject, after=after, limit=HTTP_PAGE_LIMIT)
        for event in events:
            after = event["seq"]
            yield event
            if kind.is_final_event(event):
                return
        if len(events) == HTTP_PAGE_LIMIT:
            continue
        if stopping or (deadline is not None and time.monotonic() > deadline):
            return
        time.sleep(poll_seconds)
