"""The marketplace page: server-rendered search and skill detail over `skill_search`."""

from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.http import urlencode

from skills.models import Skill, SkillStatus, SkillType
from skills.search import SORTS, skill_search

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
        "sorts": [
            {"name": sort, "url": link(sort=sort), "is_on": sort == (data["sort"] or "relevance")}
            for sort in SORTS
        ],
    }
    return render(request, "marketplace/index.html", context)


def marketplace_skill(request: HttpRequest, slug: str) -> HttpResponse:
    skill = get_object_or_404(Skill.objects.select_related("current_version"), slug=slug)
    if skill.status != SkillStatus.APPROVED and not request.user.is_staff:
        raise Http404("No such skill.")
    context = {
        "skill": skill,
        "version": skill.current_version,
        "versions": skill.versions.only("version", "content_hash", "requirements", "created_at"),
        "history": skill.history.select_related("version", "actor")[:50],
    }
    return render(request, "marketplace/skill.html", context)
