import sqlite3
import subprocess


def test_migrate_also_creates_the_channel_layer_tables_and_only_those(manage_py, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "ATOM_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [*manage_py, "migrate", "-v0"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr

    with sqlite3.connect(tmp_path / "channels.sqlite3") as channels:
        tables = {
            name
            for (name,) in channels.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
    assert tables == {
        "django_migrations",
        "sqlite_sequence",
        "channels_lite_event",
        "channels_lite_groupmembership",
    }
