"""Installing, calling a skill and running a workflow from the notebook client: progress bars,
results, and failures shown as their errors."""

import asyncio

import pytest

import atom
from atom.actions import run_events
from skills.models import Environment, InstallJob

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_an_install_shows_progress_then_is_a_cache_hit(publish, capsys):
    publish("shout")

    first = atom.install("shout")
    second = atom.install("shout")

    assert first.ok
    assert first.cache_hit is False
    assert second.cache_hit is True
    assert first.environment == second.environment
    assert Environment.objects.get(key=first.environment).status == "ready"
    assert "install shout" in capsys.readouterr().err  # the progress bar
    environments = atom.environments()
    assert environments["key"].tolist() == [first.environment]
    assert environments["install_jobs"].tolist() == [2]
    assert environments["cache_hits"].tolist() == [1]
    installs = atom.installs()
    assert installs["id"].tolist() == [second.job, first.job]
    assert installs["skills"].tolist() == [["shout"], ["shout"]]
    assert installs["cache_hit"].tolist() == [True, False]
    assert "no: built now" in first._repr_html_()
    view = atom.environment("shout")
    assert view.key == first.environment
    assert view.skills == ["shout"]
    assert "ready" in view._repr_html_()


def test_an_unknown_skill_installs_nothing(publish):
    publish("shout")

    with pytest.raises(LookupError, match="^no skill 'shot'; closest: shout$"):
        atom.install("shot")
    assert InstallJob.objects.count() == 0


def test_a_skill_call_returns_its_result_and_a_failing_one_shows_its_error(publish):
    publish("shout")
    publish("grumpy", "def run(text):\n    raise KeyError('no ' + text)\n")

    call = atom.run_skill("shout", text="hi")
    with pytest.raises(atom.RunFailed) as failed:
        atom.run_skill("grumpy", text="thanks")

    assert call.result == "HI"
    assert call.stdout == "shouting hi\n"
    assert "HI" in call._repr_html_()
    assert str(failed.value).startswith("grumpy failed: KeyError: 'no thanks'")
    shown = failed.value._render_traceback_()
    assert shown[0] == "RunFailed: grumpy failed: KeyError: 'no thanks'"
    assert any("raise KeyError" in line for line in shown[1:])


def test_refused_params_name_the_field(publish):
    from skills.runs.errors import InvalidParams

    publish("shout")

    with pytest.raises(InvalidParams, match="^text: "):
        atom.run_skill("shout", text=3)


def test_a_workflow_run_is_watched_and_gives_each_steps_output(workflow_make, q_sync, capsys):
    workflow_make(
        "sums",
        [
            {"id": "one", "skill": "add", "params": {"a": 1, "b": 2}},
            {"id": "two", "skill": "add", "params": {"a": {"$ref": "steps.one.output.sum"},
             "b": 10}, "depends_on": ["one"]},
        ],
    )  # fmt: skip

    run = atom.run_workflow("sums")
    run.watch()

    assert run.state().status == "succeeded"
    events = run_events(run.id, after=0)  # what watch() followed
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    assert events[-1]["kind"] == "run"
    assert events[-1]["status"] == "succeeded"
    assert run.result() == {"one": {"sum": 3}, "two": {"sum": 13}}
    assert f"run {run.id}" in capsys.readouterr().err
    steps = atom.steps(run)
    assert steps["step"].tolist() == ["one", "two"]
    assert steps["status"].tolist() == ["succeeded", "succeeded"]
    html = run._repr_html_()
    assert html.count("<rect") == 2  # one Gantt bar per step
    assert "<td>two</td>" in html
    assert atom.runs("sums")["id"].tolist() == [run.id]
    recorded = run.samples()  # waits for the sample writer's batch
    assert recorded["step"].tolist() == ["one", "two"]
    assert recorded["operation"].tolist() == ["step_run", "step_run"]


def test_a_failed_run_raises_its_steps_errors_not_a_traceback(workflow_make, q_sync):
    workflow_make("bad", [{"id": "explode", "skill": "boom", "params": {"x": 1}}])

    run = atom.run_workflow("bad")

    with pytest.raises(atom.RunFailed) as failed:
        run.result()
    assert failed.value.args[0].startswith(f"run {run.id} of bad failed")
    assert failed.value.details == ["  step explode: ValueError: boom: {'x': 1}"]
    assert "ValueError: boom" in run._repr_html_()


def test_a_built_workflow_is_saved_drawn_and_run_inside_an_event_loop(engine_skills, q_sync):
    built = atom.Workflow(
        "built",
        slug="built",
        steps=[
            atom.SkillStep("a", "add", {"a": 1}),
            atom.SkillStep("b", "add", {"a": 2}),
            atom.SkillStep("c", "echo", {"value": atom.ref("steps.a.output.sum")},
                           depends_on=["a", "b"]),
        ],
    )  # fmt: skip

    async def cell():
        return atom.workflow(built), atom.run_workflow(built).result()

    view, outputs = asyncio.run(cell())

    assert view.analysis.depth == 2
    assert view.analysis.width == 2
    assert view.svg.startswith("<svg")
    assert 'data-step="c"' in view._repr_html_()
    assert outputs["c"] == {"value": 1, "label": ""}
    with pytest.raises(LookupError, match="^no workflow 'bulit'; closest: built$"):
        atom.run_workflow("bulit")
