import pytest
from django.core.management import CommandError, call_command

from skills.marketplace.search import skill_search
from skills.models import Skill, SkillStatus, SkillVersion

pytestmark = pytest.mark.django_db


def test_it_generates_a_varied_searchable_catalog_with_one_version_each(
    catalog, capsys, django_capture_on_commit_callbacks
):
    skill_search(query="pandas")  # cached before the generation
    with django_capture_on_commit_callbacks(execute=True):
        call_command("skills_generate", count=300, seed=7)
    assert "generated 300 skills (300 versions)" in capsys.readouterr().out
    generated = Skill.objects.exclude(pk__in=[skill.pk for skill in catalog])
    assert generated.count() == 300
    assert SkillVersion.objects.filter(skill__in=generated).count() == 300
    assert not generated.filter(current_version__isnull=True).exists()
    assert generated.values("category").distinct().count() >= 10
    assert generated.values("type").distinct().count() == 7
    assert generated.filter(status=SkillStatus.APPROVED).count() > 200
    assert len({tuple(tags) for tags in generated.values_list("tags", flat=True)}) > 100
    # Searchable at once (the full-text index is in step), and the cache was invalidated.
    assert skill_search(query="pandas").count > 4
    one = generated.first()
    assert skill_search(query=one.slug, status=None).items[0].slug == one.slug
    largest = max(generated.values_list("pk", flat=True))
    created = Skill.objects.create(slug="after-generation", category="x", type="utility")
    assert created.pk == largest + 1  # the id sequence was moved past the generated rows


def test_the_full_text_indexes_are_back_after_a_generation(db):
    from django.db import connection

    call_command("skills_generate", count=50, seed=1)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT indexname FROM pg_indexes "
                "WHERE tablename IN ('skills_skill', 'skills_search_doc') "
                "AND indexdef LIKE '%% USING gin %%' ORDER BY indexname"
            )
            expected = ["skill_search_gin_doc", "skill_slug_trgm", "skill_tags_gin"]
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
            expected = [
                "skills_skill_search_ad",
                "skills_skill_search_ai",
                "skills_skill_search_au",
            ]
        assert [row[0] for row in cursor.fetchall()] == expected
    Skill.objects.create(slug="added-later", category="x", type="utility", status="approved")
    assert [item.slug for item in skill_search(query="added later").items] == ["added-later"]


def test_the_same_seed_gives_the_same_catalog(db):
    call_command("skills_generate", count=20, seed=3)
    first = list(Skill.objects.order_by("pk").values_list("category", "type", "tags"))
    Skill.objects.all().delete()
    call_command("skills_generate", count=20, seed=3)
    assert list(Skill.objects.order_by("pk").values_list("category", "type", "tags")) == first


def test_it_refuses_a_count_out_of_range(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--count"):
        call_command("skills_generate", count=0)
    assert Skill.objects.count() == 0


def test_manage_py_skills_generate_is_the_same_command(db, capsys):
    call_command("skills", "generate", "--count", "20", "--seed", "3")
    assert "generated 20 skills (20 versions)" in capsys.readouterr().out
    assert Skill.objects.count() == 20
    with pytest.raises(CommandError, match="--count: must be between 1 and 10,000,000"):
        call_command("skills", "generate", "--count", "0")
    assert Skill.objects.count() == 20


def test_descriptions_vary_as_real_ones_do(db):
    """Several sentence shapes and no clause in every description: the old single template
    put "reports what it skipped" in all of them, so every query on those words matched the
    whole catalog."""
    import re
    from collections import Counter

    call_command("skills_generate", count=2_000, seed=5)
    descriptions = list(Skill.objects.values_list("description", flat=True))
    words = Counter(
        word for text in descriptions for word in set(re.findall(r"[a-z]+", text.lower()))
    )
    content = {word: n for word, n in words.items() if len(word) > 3}
    assert max(content.values()) < 0.25 * len(descriptions)
    assert len({text.split()[0] for text in descriptions}) > 50
    assert len(set(descriptions)) > 0.95 * len(descriptions)
    libraries = Counter(slug.split("-")[0] for slug in Skill.objects.values_list("slug", flat=True))
    # A long tail: the most used library in many skills, most in few.
    [(top, top_count)] = libraries.most_common(1)
    assert top == "pandas"
    assert top_count > 5 * sorted(libraries.values())[len(libraries) // 2]
