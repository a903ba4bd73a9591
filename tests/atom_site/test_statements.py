"""Writes as plain SQL (atom_site/statements.py): the rows are the ORM's, statements run
together or not at all, and a commit that need not wait for the disk changes nothing else."""

import datetime

import pytest
from django.db import DatabaseError, connection
from django.forms.models import model_to_dict
from django.utils import timezone

from atom_site.statements import (
    Statement,
    can_send_ahead,
    instance_insert,
    row_insert,
    row_update,
    statements_run,
    statements_sent,
)
from skills.models import Skill, SkillRun, SkillRunStatus

pytestmark = pytest.mark.django_db(transaction=True)

STARTED = datetime.datetime(2026, 12, 5, 12, 0, 0, 123456, tzinfo=datetime.UTC)
ODD_PARAMS = {"text": "naïve ☃ \U0001f600 \u202e", "nested": {"list": [1, 2.5, None, True]}}


def run_of(skill: Skill, **fields) -> SkillRun:
    return SkillRun(
        skill=skill,
        version=skill.current_version,
        params=ODD_PARAMS,
        timeout=12.5,
        status=SkillRunStatus.RUNNING,
        started_at=STARTED,
        attempts=1,
        **fields,
    )


def stored(run: SkillRun) -> dict:
    """What the database holds for a run, as the ORM reads it back (no id, no creation time)."""
    row = model_to_dict(SkillRun.objects.get(pk=run.pk))
    return {name: value for name, value in row.items() if name not in ("id", "created_at")}


def test_an_inserted_row_is_the_one_the_orm_writes(skill_publish, user_make):
    skill = skill_publish()
    user = user_make()
    by_orm = run_of(skill, requested_by=user)
    by_orm.save()
    by_sql = run_of(skill, requested_by=user)

    instance_insert(by_sql, is_flush_awaited=False)

    assert by_sql.pk is not None
    assert by_sql.pk != by_orm.pk
    assert not by_sql._state.adding
    assert stored(by_sql) == stored(by_orm)
    assert by_sql.created_at == SkillRun.objects.get(pk=by_sql.pk).created_at  # set by pre_save


@pytest.mark.parametrize("result", [None, {"a": [1, "ü"]}, ["x", 2], "text", 3.5, True])
def test_an_updated_row_is_the_one_the_orm_writes(skill_publish, result):
    skill = skill_publish()
    by_orm, by_sql = run_of(skill), run_of(skill)
    by_orm.save()
    by_sql.save()
    fields = {
        "status": SkillRunStatus.SUCCEEDED,
        "result": result,
        "error_message": 'it\'s 100% "quoted"; DROP TABLE x; --',
        "stdout": "line\n" * 3,
        "stdout_bytes": 15,
        "wall_seconds": 0.001234,
        "peak_rss_kb": None,
        "finished_at": timezone.now(),
    }

    SkillRun.objects.filter(pk=by_orm.pk).update(**fields)
    statements_run([row_update(SkillRun, by_sql.pk, fields)])

    assert stored(by_sql) == stored(by_orm)
    assert stored(by_sql)["result"] == result


def test_statements_run_together_or_not_at_all(skill_publish):
    skill = skill_publish()
    counted = Statement(
        f"UPDATE {connection.ops.quote_name(Skill._meta.db_table)} SET run_count = 7 WHERE id = %s",
        [skill.pk],
    )
    broken = Statement("UPDATE no_such_table SET x = 1 WHERE id = %s", [1])

    with pytest.raises(DatabaseError):
        statements_run([counted, broken], is_flush_awaited=False)

    assert Skill.objects.get(pk=skill.pk).run_count == 0


def test_statements_return_each_one_s_rows_and_leave_the_commit_setting_as_it_was(
    skill_publish,
):
    skill = skill_publish()
    table = connection.ops.quote_name(Skill._meta.db_table)
    found = statements_run(
        [
            Statement(f"UPDATE {table} SET run_count = run_count + 1 WHERE id = %s", [skill.pk]),
            Statement(f"SELECT slug, run_count FROM {table} WHERE id = %s", [skill.pk]),
        ],
        is_flush_awaited=False,
    )

    assert found == [[], [("shout", 1)]]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone() == ("on",)  # SET LOCAL ended with its transaction


# Sent ahead ------------------------------------------------------------------------------------

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="statements are sent ahead on PostgreSQL only"
)


def other_connection_sees(sql: str, params: list) -> list[tuple]:
    """What a connection of another process would read now (this one has a statement in flight)."""
    import psycopg

    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"] or "127.0.0.1", port=settings["PORT"] or 5432,
        user=settings["USER"] or "postgres", dbname=settings["NAME"], autocommit=True,
    ) as other:  # fmt: skip
        return other.execute(sql, params).fetchall()


@on_postgresql
def test_statements_sent_ahead_are_written_before_their_answer_is_read(skill_publish):
    skill = skill_publish()
    table = connection.ops.quote_name(Skill._meta.db_table)
    assert can_send_ahead()

    in_flight = statements_sent(
        [
            Statement(f"UPDATE {table} SET run_count = run_count + 1 WHERE id = %s", [skill.pk]),
            Statement(f"SELECT slug, run_count FROM {table} WHERE id = %s", [skill.pk]),
        ],
        is_flush_awaited=False,
    )
    seen = wait_for(lambda: other_connection_sees(
        f"SELECT run_count FROM {table} WHERE id = %s", [skill.pk]) == [(1,)])  # fmt: skip

    assert seen, "the statements were not sent before their answer was read"
    assert in_flight.result() == [[], [("shout", 1)]]
    with connection.cursor() as cursor:  # the connection is free again, its setting untouched
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone() == ("on",)


@on_postgresql
def test_a_failing_statement_sent_ahead_raises_when_read_and_keeps_none(skill_publish):
    skill = skill_publish()
    table = connection.ops.quote_name(Skill._meta.db_table)
    counted = Statement(f"UPDATE {table} SET run_count = 7 WHERE id = %s", [skill.pk])
    broken = Statement("UPDATE no_such_table SET x = 1 WHERE id = %s", [1])

    in_flight = statements_sent([counted, broken])

    with pytest.raises(DatabaseError, match="no_such_table"):
        in_flight.result()
    assert Skill.objects.get(pk=skill.pk).run_count == 0  # and the connection works


@on_postgresql
def test_a_run_s_row_sent_ahead_is_the_one_the_orm_writes(skill_publish, user_make):
    skill = skill_publish()
    expected, sent = run_of(skill), run_of(skill)
    expected.save()

    [[(pk,)]] = statements_sent([row_insert(sent)], is_flush_awaited=False).result()

    assert stored(SkillRun(pk=pk)) == stored(expected)


@on_postgresql
@pytest.mark.parametrize("next_use", ["a query", "a transaction", "its close"])
def test_an_unread_statement_sent_ahead_is_read_before_the_connection_is_used_or_closed(
    skill_publish, next_use
):
    from django.db import transaction

    skill = skill_publish()
    table = connection.ops.quote_name(Skill._meta.db_table)
    heard = []
    statements_sent(
        [
            Statement(
                f"UPDATE {table} SET run_count = 5 WHERE id = %s RETURNING run_count", [skill.pk]
            )
        ],
        on_result=heard.append,
    )

    if next_use == "a query":
        assert Skill.objects.get(pk=skill.pk).run_count == 5
    elif next_use == "a transaction":
        with transaction.atomic():
            Skill.objects.filter(pk=skill.pk).update(run_count=6)
    else:
        connection.close()

    assert heard == [[[(5,)]]]
    assert connection.in_flight == []
    assert other_connection_sees(f"SELECT run_count FROM {table} WHERE id = %s", [skill.pk]) in (
        [(5,)], [(6,)]
    )  # fmt: skip


@on_postgresql
def test_a_response_leaves_only_once_what_its_request_sent_ahead_is_read(skill_publish):
    from django.http import HttpResponse
    from django.test import RequestFactory

    from atom_site.middleware import SentWritesAwaitedMiddleware

    skill = skill_publish()
    table = connection.ops.quote_name(Skill._meta.db_table)
    heard = []

    def view(request):
        set_three = f"UPDATE {table} SET run_count = 3 WHERE id = %s RETURNING run_count"
        statements_sent([Statement(set_three, [skill.pk])], on_result=heard.append)
        return HttpResponse("made")

    response = SentWritesAwaitedMiddleware(view)(RequestFactory().get("/"))

    assert (response.content, heard, connection.in_flight) == (b"made", [[[(3,)]]], [])
    assert connection.connection is not None  # read, not closed


def test_nothing_is_sent_ahead_inside_a_transaction_or_on_sqlite(db):
    from django.db import transaction

    with transaction.atomic():
        assert not can_send_ahead()
    assert can_send_ahead() == (connection.vendor == "postgresql")


def wait_for(condition, within: float = 5.0) -> bool:
    import time

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False
