"""skills.runs.notebook: calls and recorded runs as pandas DataFrames."""

import pytest

from skills.models import SkillRun
from skills.runs.errors import InvalidParams
from skills.runs.notebook import CALL_COLUMNS, skill_run_frame, skill_runs_frame
from skills.runs.records import skill_run_start

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_each_call_is_a_row_with_its_result_and_timings(publish):
    publish()

    calls = skill_run_frame("shout", {"text": "hi"}, repeat=3)

    assert list(calls.columns) == CALL_COLUMNS
    assert calls["result"].tolist() == ["HI", "HI", "HI"]
    assert calls["cache"].tolist() == ["loaded", "hit", "hit"]
    assert calls["stdout"].tolist() == ["shouting hi\n"] * 3
    assert (calls["wall_ms"] >= calls["run_ms"]).all()


def test_a_refused_call_raises_naming_the_field_and_runs_nothing(publish):
    publish()

    with pytest.raises(InvalidParams) as refused:
        skill_run_frame("shout", {"text": 1})

    assert refused.value.field == "text"
    with pytest.raises(ValueError, match="repeat must be at least 1"):
        skill_run_frame("shout", {"text": "a"}, repeat=0)


def test_recorded_runs_are_a_frame_newest_first(ready):
    skill = ready()
    first = skill_run_start(skill=skill, params={"text": "a"})
    second = skill_run_start(skill=skill, params={"text": "b"})

    runs = skill_runs_frame("shout")

    assert runs["id"].tolist() == [second.pk, first.pk]
    assert runs["status"].tolist() == ["succeeded", "succeeded"]
    assert SkillRun.objects.count() == 2
