"""A bad environment stops start-up with one line naming the variable, not a traceback."""

import subprocess

import pytest


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "DATABASE_URL",
            "postgres//nohost",
            "DATABASE_URL: 'postgres//nohost' is not a URL (expected scheme://…)",
        ),
        ("REDIS_URL", "redis://localhost:6379/abc", "REDIS_URL: database 'abc' is not a number"),
        ("ATOM_Q_WORKERS", "many", "ATOM_Q_WORKERS='many' is not a whole number"),
        ("DEBUG", "perhaps", "DEBUG='perhaps' is not a boolean (use true/false, 1/0, yes/no)"),
    ],
)
def test_a_bad_setting_stops_start_up_with_one_line(variable, value, message, manage_py, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "ATOM_DATA_DIR": str(tmp_path), variable: value}
    result = subprocess.run(
        [*manage_py, "check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr == f"atom: configuration error: {message}\n"


def test_debug_off_without_a_secret_key_is_refused(manage_py, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "ATOM_DATA_DIR": str(tmp_path), "DEBUG": "false"}
    result = subprocess.run(
        [*manage_py, "check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr == "atom: configuration error: SECRET_KEY: required when DEBUG is off\n"
    assert not (tmp_path / "secret_key").exists()
