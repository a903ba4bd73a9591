"""The catalog's hot-path reads (skills/catalog/selectors.py): the ORM's instances, in one query,
and outside a transaction none while no write to the catalog has committed since."""

import time

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from skills.catalog.announcements import CATALOG_GENERATION
from skills.catalog.importer import SkillSource, skills_import
from skills.catalog.selectors import skill_with_current_version
from skills.catalog.transitions import skill_deprecate
from skills.models import Skill, SkillStatus, SkillVersion
from tests.skills.conftest import skill_source


@pytest.mark.django_db
def test_a_skill_and_its_current_version_are_read_as_the_orm_reads_them_in_one_query(
    publish, django_assert_num_queries
):
    publish()
    expected = Skill.objects.select_related("current_version").get(slug="shout")

    with django_assert_num_queries(1):
        skill = skill_with_current_version(slug="shout")
        version = skill.current_version

    assert model_to_dict(skill) == model_to_dict(expected)
    assert model_to_dict(version) == model_to_dict(expected.current_version)
    assert (skill.created_at, version.created_at) == (
        expected.created_at,
        expected.current_version.created_at,
    )
    assert (skill._state.adding, version._state.adding) == (False, False)


@pytest.mark.django_db
def test_a_skill_without_a_current_version_reads_none_for_it_without_another_query(
    publish, django_assert_num_queries
):
    publish()
    Skill.objects.filter(slug="shout").update(current_version=None)

    with django_assert_num_queries(1):
        skill = skill_with_current_version(slug="shout")
        assert skill.current_version is None


def test_an_unknown_slug_reads_none(db):
    assert skill_with_current_version(slug="no-such-skill") is None


# Kept between calls ------------------------------------------------------------------------


def generation_followed() -> None:
    """With Redis, wait until this process follows the catalog's generation: its first
    subscription changes the generation once, and would drop a copy made before it."""
    deadline = time.monotonic() + 5
    while settings.REDIS_URL and CATALOG_GENERATION.current()[0] != "heard":
        assert time.monotonic() < deadline, "the catalog's generation is not followed"
        time.sleep(0.01)


def queries_of(read) -> tuple[object, int]:
    with CaptureQueriesContext(connection) as queries:
        found = read()
    return found, len(queries)


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_skill_read_again_costs_no_query(publish):
    publish()
    generation_followed()
    first, first_queries = queries_of(lambda: skill_with_current_version(slug="shout"))

    again, again_queries = queries_of(lambda: skill_with_current_version(slug="shout"))

    assert (first_queries, again_queries) == (1, 0)
    assert again is first


def _deprecated_by_its_transition(skill: Skill) -> None:
    staff = get_user_model().objects.create_user("rev", password="pw-rev-12345678", is_staff=True)
    skill_deprecate(skill=skill, actor=staff)


def _deprecated_by_save(skill: Skill) -> None:
    skill.status = SkillStatus.DEPRECATED
    skill.save()


def _deprecated_by_update(skill: Skill) -> None:  # no signal of Django's
    Skill.objects.filter(pk=skill.pk).update(status=SkillStatus.DEPRECATED)


def _deprecated_by_bulk_update(skill: Skill) -> None:
    skill.status = SkillStatus.DEPRECATED
    Skill.objects.bulk_update([skill], ["status"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "deprecate",
    [_deprecated_by_its_transition, _deprecated_by_save, _deprecated_by_update,
     _deprecated_by_bulk_update],
)  # fmt: skip
def test_a_skill_changed_after_it_was_kept_is_read_afresh_at_once(publish, deprecate):
    skill = publish()
    assert skill_with_current_version(slug="shout").status == SkillStatus.APPROVED

    deprecate(Skill.objects.get(pk=skill.pk))

    assert skill_with_current_version(slug="shout").status == SkillStatus.DEPRECATED


@pytest.mark.django_db(transaction=True)
def test_a_new_version_of_a_kept_skill_is_the_one_read_at_once(publish):
    publish()
    before = skill_with_current_version(slug="shout").current_version

    newer = skill_source("shout", version="1.1.0", body="def run(text):\n    return text * 2\n")
    skills_import(sources=[SkillSource("shout.py", "shout.py", newer.encode())], approve=True)

    after = skill_with_current_version(slug="shout").current_version
    assert after.pk != before.pk
    assert "text * 2" in after.source


@pytest.mark.django_db(transaction=True)
def test_a_version_changed_or_a_skill_deleted_after_it_was_kept_is_seen_at_once(publish):
    skill = publish()
    skill_with_current_version(slug="shout")

    SkillVersion.objects.filter(pk=skill.current_version_id).update(timeout=7)
    assert skill_with_current_version(slug="shout").current_version.timeout == 7

    Skill.objects.filter(pk=skill.pk).delete()
    assert skill_with_current_version(slug="shout") is None


def _deprecated_then_rolled_back(slug: str) -> None:
    with transaction.atomic():
        Skill.objects.filter(slug=slug).update(status=SkillStatus.DEPRECATED)
        raise RuntimeError("rolled back")


@pytest.mark.django_db(transaction=True)
def test_a_write_rolled_back_leaves_the_kept_skill_as_it_was(publish):
    publish()
    generation_followed()
    kept = skill_with_current_version(slug="shout")

    with pytest.raises(RuntimeError, match="rolled back"):
        _deprecated_then_rolled_back("shout")

    assert skill_with_current_version(slug="shout") is kept


@pytest.mark.django_db
def test_inside_a_transaction_the_skill_is_read_every_time(publish):
    publish()  # this test's transaction wrote the catalog: a copy could not show its writes
    skill_with_current_version(slug="shout")
    Skill.objects.filter(slug="shout").update(status=SkillStatus.DEPRECATED)

    found, queries = queries_of(lambda: skill_with_current_version(slug="shout"))

    assert (found.status, queries) == (SkillStatus.DEPRECATED, 1)


@pytest.mark.django_db(transaction=True)
def test_with_no_copy_time_the_skill_is_read_every_time(publish, settings):
    settings.ATOM_CATALOG_COPY_SECONDS = 0
    publish()
    skill_with_current_version(slug="shout")

    _, queries = queries_of(lambda: skill_with_current_version(slug="shout"))

    assert queries == 1
