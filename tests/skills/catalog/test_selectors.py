"""The catalog's hot-path reads (skills/catalog/selectors.py): the ORM's instances, in one query."""

import pytest
from django.forms.models import model_to_dict

from skills.catalog.selectors import skill_with_current_version
from skills.models import Skill

pytestmark = pytest.mark.django_db


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
