from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from atom_site.env import env_bool, env_float, env_int, env_list, env_path


def test_env_int_reads_a_number_and_falls_back_to_the_default():
    assert env_int("WORKERS", 4, environ={"WORKERS": " 8 "}) == 8
    assert env_int("WORKERS", 4, environ={}) == 4


@pytest.mark.parametrize(
    ("value", "message"),
    [("eight", "WORKERS='eight' is not a whole number"), ("0", "WORKERS=0 is below the minimum")],
)
def test_env_int_names_the_variable_on_a_bad_value(value, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        env_int("WORKERS", 4, minimum=1, environ={"WORKERS": value})


def test_env_float_refuses_nan_and_text():
    with pytest.raises(ImproperlyConfigured, match="POLL='nan' is not a finite number"):
        env_float("POLL", 1.0, environ={"POLL": "nan"})
    with pytest.raises(ImproperlyConfigured, match="POLL='fast' is not a number"):
        env_float("POLL", 1.0, environ={"POLL": "fast"})


@pytest.mark.parametrize(("value", "expected"), [("yes", True), ("0", False), ("ON", True)])
def test_env_bool_reads_the_usual_words(value, expected):
    assert env_bool("DEBUG", not expected, environ={"DEBUG": value}) is expected


def test_env_bool_refuses_anything_else():
    with pytest.raises(ImproperlyConfigured, match="DEBUG='maybe' is not a boolean"):
        env_bool("DEBUG", False, environ={"DEBUG": "maybe"})


def test_env_list_splits_on_commas_and_drops_blanks():
    assert env_list("HOSTS", environ={"HOSTS": "a.example, b.example,,"}) == [
        "a.example",
        "b.example",
    ]


def test_env_path_resolves_relative_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert env_path("DIR", Path("x"), environ={"DIR": "data"}) == tmp_path / "data"
