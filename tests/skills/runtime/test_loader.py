"""The loader inside the runner, exercised in this process (it is plain standard library)."""

import os
import sys

import pytest

from skills.runtime.runner import SkillLoader, SourceUnavailable, module_name_for
from tests.skills.runtime.conftest import content_hash

DATACLASS_SKILL = """
import dataclasses
import sys

@dataclasses.dataclass
class Point:
    x: int
    y: int

REGISTERED_WHILE_RUNNING = __name__ in sys.modules

def run():
    return dataclasses.asdict(Point(1, 2))
"""


@pytest.fixture
def loader():
    loader = SkillLoader(capacity=3)
    yield loader
    loader.clear_cache()


def test_a_skill_is_registered_in_sys_modules_before_it_runs(loader, write_skill):
    path = write_skill("points.py", DATACLASS_SKILL)

    loaded, status = loader.load_skill("points", str(path), content_hash(path))

    assert status == "loaded"
    assert loaded.module.REGISTERED_WHILE_RUNNING is True
    assert loaded.module.run() == {"x": 1, "y": 2}
    assert loaded.module_name == module_name_for("points", content_hash(path))
    assert sys.modules[loaded.module_name] is loaded.module
    assert loaded.module.__file__ == str(path)


def test_a_cached_skill_is_returned_without_reading_its_file(loader, write_skill):
    path = write_skill("one.py", "def run():\n    return 1\n")
    digest = content_hash(path)
    first, _ = loader.load_skill("one", str(path), digest)
    path.unlink()

    again, status = loader.load_skill("one", str(path), digest)

    assert status == "hit"
    assert again is first
    assert loader.get_skill("one", digest) is first
    assert loader.get_skill("one", "another-hash") is None


def test_a_new_hash_reloads_and_removes_the_old_module(loader, write_skill):
    path = write_skill("v.py", "def run():\n    return 1\n")
    old, _ = loader.load_skill("v", str(path), content_hash(path))
    path.write_text("def run():\n    return 2\n")

    new, status = loader.load_skill("v", str(path), content_hash(path))

    assert status == "reloaded"
    assert new.module.run() == 2
    assert old.module_name not in sys.modules
    assert sys.modules[new.module_name] is new.module
    assert loader.keys() == [("v", content_hash(path))]


def test_an_edit_in_the_same_second_with_the_same_size_still_loads_the_new_code(
    loader, write_skill
):
    path = write_skill("same.py", "def run():\n    return 'a'\n")
    stat = path.stat()
    loader.load_skill("same", str(path))
    path.write_text("def run():\n    return 'b'\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    loaded, status = loader.load_skill("same", str(path))

    assert (status, loaded.module.run()) == ("reloaded", "b")


def test_the_least_recently_used_skill_is_evicted_past_capacity(loader, write_skill):
    paths = {
        name: write_skill(f"{name}.py", f"def run():\n    return '{name}'\n") for name in "abcd"
    }
    for name in "abc":
        loader.load_skill(name, str(paths[name]))
    kept_name = loader.get_skill("a", content_hash(paths["a"])).module_name
    loader.get_skill("a", content_hash(paths["a"]))  # a is now the most recently used

    loader.load_skill("d", str(paths["d"]))

    assert [key[0] for key in loader.keys()] == ["c", "a", "d"]
    assert module_name_for("b", content_hash(paths["b"])) not in sys.modules
    assert kept_name in sys.modules


def test_reload_unload_and_clear(loader, write_skill):
    path = write_skill("r.py", "def run():\n    return 1\n")
    first, _ = loader.load_skill("r", str(path))

    second, status = loader.reload_skill("r", str(path))

    assert status == "reloaded"
    assert second is not first
    assert loader.unload_skill("r") is True
    assert loader.unload_skill("r") is False
    assert second.module_name not in sys.modules
    loader.load_skill("r", str(path))
    assert loader.clear_cache() == 1
    assert len(loader) == 0


def test_a_skill_whose_module_fails_leaves_nothing_behind(loader, write_skill):
    path = write_skill("bad.py", "raise RuntimeError('at import')\n")

    with pytest.raises(RuntimeError, match="at import"):
        loader.load_skill("bad", str(path))

    assert module_name_for("bad", content_hash(path)) not in sys.modules
    assert len(loader) == 0


def test_an_unreadable_file_asks_for_the_source(loader, tmp_path):
    with pytest.raises(SourceUnavailable):
        loader.load_skill("missing", str(tmp_path / "missing.py"))

    loaded, status = loader.load_skill(
        "missing", str(tmp_path / "missing.py"), source="def run():\n    return 'sent'\n"
    )

    assert (status, loaded.module.run()) == ("loaded", "sent")
