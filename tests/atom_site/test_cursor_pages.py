"""Cursor pages for the lists that grow fast (perf samples, skill runs, workflow runs): `next`
walks every row once, in order, however many rows arrive meanwhile; the page shape stays."""

import datetime

import pytest
from django.utils import timezone

from perf.models import Sample
from skills.models import SkillRun

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


def samples_add(count: int, *, at: datetime.datetime = NOW) -> list[int]:
    """`count` samples, pairs of them at the same instant (the key breaks the ties)."""
    rows = [
        Sample(operation="skill_run", duration=0.001 * i, created_at=at - datetime.timedelta(
            seconds=i // 2)) for i in range(count)
    ]  # fmt: skip
    return [row.pk for row in Sample.objects.bulk_create(rows)]


def walk(client, path: str, **query) -> tuple[list[int], list[dict]]:
    seen, answers = [], []
    answer = client.get(path, {**query, "cursor": ""}).json()
    while True:
        answers.append(answer)
        seen += [item["id"] for item in answer["items"]]
        if answer["next"] is None:
            return seen, answers
        answer = client.get(path, {**query, "cursor": answer["next"]}).json()


def test_cursor_pages_walk_every_sample_once_in_order(client):
    samples_add(7)
    newest_first = list(Sample.objects.order_by("-created_at", "-id").values_list("id", flat=True))

    seen, answers = walk(client, "/api/perf/samples", page_size=3)

    assert seen == newest_first
    assert [len(answer["items"]) for answer in answers] == [3, 3, 1]
    assert {(a["count"], a["page"], a["pages"], a["page_size"]) for a in answers} == {
        (None, None, None, 3)}  # fmt: skip


def test_rows_arriving_meanwhile_do_not_shift_a_cursor_page(client):
    samples_add(6)
    first = client.get("/api/perf/samples", {"cursor": "", "page_size": 3}).json()
    samples_add(4, at=NOW + datetime.timedelta(seconds=5))  # newer: before the first page

    rest = client.get("/api/perf/samples", {"cursor": first["next"], "page_size": 3}).json()

    walked = [item["id"] for item in first["items"] + rest["items"]]
    oldest = Sample.objects.filter(created_at__lte=NOW).order_by("-created_at", "-id")
    assert walked == list(oldest.values_list("id", flat=True))
    assert rest["next"] is None


def test_a_numbered_page_gives_the_cursor_of_what_follows(client):
    samples_add(5)

    page = client.get("/api/perf/samples", {"page_size": 2}).json()
    following = client.get("/api/perf/samples", {"cursor": page["next"], "page_size": 2}).json()
    last = client.get("/api/perf/samples", {"page": 3, "page_size": 2}).json()

    assert (page["count"], page["page"], page["pages"]) == (5, 1, 3)
    second = client.get("/api/perf/samples", {"page": 2, "page_size": 2}).json()
    assert following["items"] == second["items"]
    assert last["next"] is None


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"cursor": "not-a-cursor"}, "not a cursor this list gave (use its `next`)"),
        ({"cursor": "WyJ4IiwgMV0"}, "not a cursor this list gave (use its `next`)"),  # ["x", 1]
        ({"cursor": "", "page": 2}, "give either page or cursor, not both"),
    ],
)
def test_a_cursor_it_did_not_give_is_refused_naming_it(client, query, message):
    samples_add(2)

    answer = client.get("/api/perf/samples", query)

    assert answer.status_code == 422
    assert answer.json() == {"detail": message, "errors": [{"field": "cursor", "message": message}]}


def test_skill_runs_are_listed_in_cursor_pages_to_their_owner(client, skill_publish, user_make,
                                                              token_make):  # fmt: skip
    skill = skill_publish("shout")
    ana, bob = user_make("ana"), user_make("bob")
    for owner, count in ((ana, 5), (bob, 2)):
        SkillRun.objects.bulk_create(
            SkillRun(skill=skill, version=skill.current_version, requested_by=owner, timeout=5,
                     status="succeeded") for _ in range(count)
        )  # fmt: skip
    token = token_make("read", owner=ana)
    mine = SkillRun.objects.filter(requested_by=ana).order_by("-created_at", "-id")

    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    seen, answers = walk(client, "/api/runs/", page_size=2, skill="shout")
    numbered = client.get("/api/runs/", {"status": "succeeded"}).json()

    assert seen == list(mine.values_list("id", flat=True))
    assert len(answers) == 3
    assert (numbered["count"], numbered["next"]) == (5, None)
    assert {item["skill"] for item in numbered["items"]} == {"shout"}
    assert client.get("/api/runs/", {"status": "failed"}).json()["items"] == []
