"""The marketplace page: server-rendered search and skill detail over `skill_search`, and the
install / try buttons of a skill for signed-in users (the installer's `install_request` and
`skill_run_start`, the functions behind the API too). Plain forms and links: no JavaScript
needed."""

import json

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from skills.installer.jobs import InstallRefused, install_request
from skills.installer.keys import InterpreterError
from skills.marketplace.install_cost import cost_subject_of, install_costs
from skills.marketplace.search import SORTS, skill_search
from skills.models import (
    InstallJob,
    Skill,
    SkillRun,
    SkillRunStatus,
    SkillStatus,
    SkillType,
)
from skills.runs.errors import InvalidParams, RunError
from skills.runs.forms import TryForm
from skills.runs.records import skill_run_start

PAGE_SIZE = 20


class MarketplaceForm(forms.Form):
    query = forms.CharField(required=False, max_length=settings.MARKETPLACE_MAX_QUERY_LENGTH)
    category = forms.SlugField(required=False, max_length=64)
    type = forms.ChoiceField(required=False, choices=[("", "any type"), *SkillType.choices])
    tag = forms.CharField(required=False, max_length=64)
    sort = forms.ChoiceField(required=False, choices=[(sort, sort) for sort in SORTS])
    page = forms.IntegerField(required=False, min_value=1, max_value=1_000_000)

    def clean_tag(self) -> str:
        tag = self.cleaned_data["tag"]
        if "\x00" in tag:
            raise forms.ValidationError("A tag cannot contain NUL.")
        return tag


def marketplace_index(request: HttpRequest) -> HttpResponse:
    form = MarketplaceForm(request.GET)
    if not form.is_valid():
        return render(request, "marketplace/index.html", {"form": form}, status=400)
    data = form.cleaned_data
    params = {key: value for key, value in data.items() if value and key != "page"}
    result = skill_search(
        query=data["query"],
        category=data["category"] or None,
        type=data["type"] or None,
        tag=data["tag"] or None,
        sort=data["sort"] or "relevance",
        page=data["page"] or 1,
        page_size=PAGE_SIZE,
    )

    def link(**changes: object) -> str:
        merged = {**params, **changes}
        return "?" + urlencode({key: value for key, value in merged.items() if value})

    facets = {
        name: [
            {
                "value": value,
                "count": count,
                "url": link(**{name: value}),
                "is_on": value == data[name],
            }
            for value, count in counts.items()
        ]
        for name, counts in result.facets.items()
    }
    context = {
        "form": form,
        "result": result,
        "facets": facets,
        "clear": {name: link(**{name: ""}) for name in ("category", "type", "tag", "query")},
        "previous_url": link(page=result.page - 1) if result.page > 1 else "",
        "next_url": link(page=result.page + 1) if result.page < result.pages else "",
        # A selection as a bundle: the skills import function reads it back.
        "bundle_url": _bundle_url([item.slug for item in result.items]),
        "sorts": [
            {"name": sort, "url": link(sort=sort), "is_on": sort == (data["sort"] or "relevance")}
            for sort in SORTS
        ],
    }
    return render(request, "marketplace/index.html", context)


def _bundle_url(slugs: list[str]) -> str:
    if not slugs:
        return ""
    return reverse("api:skill_export") + "?" + urlencode([("slug", slug) for slug in slugs])


def _offered_skill(request: HttpRequest, slug: str) -> Skill:
    skill = get_object_or_404(Skill.objects.select_related("current_version"), slug=slug)
    if skill.status != SkillStatus.APPROVED and not request.user.is_staff:
        raise Http404("No such skill.")
    return skill


def _skill_page(
    request: HttpRequest, skill: Skill, *, status: int = 200, **extra: object
) -> HttpResponse:
    context = {
        "skill": skill,
        "version": skill.current_version,
        "versions": skill.versions.only("version", "content_hash", "requirements", "created_at"),
        "history": skill.history.select_related("version", "actor")[:50],
        # Live, not cached: this is the page people install from.
        "cost": install_costs([cost_subject_of(skill)])[skill.slug],
        "try_form": TryForm(),
        "bundle_url": _bundle_url([skill.slug]),
        **extra,
    }
    return render(request, "marketplace/skill.html", context, status=status)


def marketplace_skill(request: HttpRequest, slug: str) -> HttpResponse:
    return _skill_page(request, _offered_skill(request, slug))


@login_required
@require_POST
def marketplace_install(request: HttpRequest, slug: str) -> HttpResponse:
    """Ask for the skill's environment; the job's page follows it."""
    skill = _offered_skill(request, slug)
    if skill.current_version is None:
        return _skill_page(request, skill, status=409, install_error="It has no version yet.")
    skill.current_version.skill = skill
    try:
        result = install_request(skill_versions=[skill.current_version])
    except InstallRefused as refused:
        return _skill_page(request, skill, status=422, install_problems=refused.problems)
    except InterpreterError as error:
        return _skill_page(request, skill, status=503, install_error=str(error))
    return redirect("marketplace-install-job", job_id=result.jobs[0].pk)


def marketplace_install_job(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(InstallJob.objects.select_related("environment"), pk=job_id)
    context = {
        "job": job,
        "skills": list(job.skills.order_by("slug").values_list("slug", flat=True)),
        "log": list(job.log_lines.values_list("text", flat=True)[:500]),
    }
    return render(request, "marketplace/install_job.html", context)


@login_required
@require_POST
def marketplace_try(request: HttpRequest, slug: str) -> HttpResponse:
    """Run the skill once with the posted JSON params, as a recorded run (the function behind
    `POST /api/skills/{slug}/run`); its page shows the outcome, or follows it when queued."""
    skill = _offered_skill(request, slug)
    form = TryForm(request.POST)
    if not form.is_valid():
        return _skill_page(request, skill, status=400, try_form=form)
    try:
        run = skill_run_start(skill=skill, params=form.cleaned_data["params"], user=request.user)
    except InvalidParams as error:
        form.add_error("params", f"{error.field}: {error.message}")
        return _skill_page(request, skill, status=400, try_form=form)
    except RunError as error:  # not runnable here (409), or not now (503)
        return _skill_page(request, skill, status=error.status, try_form=form, try_error=str(error))
    return redirect("marketplace-run", run_id=run.pk)


@login_required
def marketplace_run(request: HttpRequest, run_id: int) -> HttpResponse:
    """A run asked for from the marketplace: its outcome, refreshed until it is finished.
    Only the one who asked (or staff) may see it: params and results are theirs."""
    runs = SkillRun.objects.select_related("skill", "version")
    if not request.user.is_staff:
        runs = runs.filter(requested_by=request.user)
    run = get_object_or_404(runs, pk=run_id)
    result_json = ""
    if run.status == SkillRunStatus.SUCCEEDED:
        result_json = json.dumps(run.result, indent=2, ensure_ascii=False)
    context = {
        "run": run,
        "params_json": json.dumps(run.params, ensure_ascii=False),
        "result_json": result_json,
    }
    return render(request, "marketplace/run.html", context)
