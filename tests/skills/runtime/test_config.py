"""The runtime's settings and per-call limits."""

from pathlib import Path

import pytest

from skills.runtime import CallLimits, RuntimeConfig, SkillRef
from skills.runtime.host import preload_from_settings


def test_the_config_follows_the_settings(settings):
    settings.ATOM_RUNNER_MIN = 2
    settings.ATOM_RUNNER_MAX = 5
    settings.ATOM_LOADER_CACHE_SIZE = 7
    settings.ATOM_SANDBOX = "none"
    settings.ATOM_SANDBOX_HOST_UID = 64999
    settings.ATOM_PRELOAD_SKILLS = ["/skills/a.py", "fast=/skills/b.py"]

    config = RuntimeConfig.from_settings()

    assert (config.min_runners, config.max_runners, config.loader_cache_size) == (2, 5, 7)
    assert (config.sandbox, config.sandbox_host_uid) == ("none", 64999)
    assert preload_from_settings(config.preload) == [
        SkillRef("a", Path("/skills/a.py")),
        SkillRef("fast", Path("/skills/b.py")),
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sandbox": "docker"}, "sandbox must be one of auto, bwrap, none"),
        ({"min_runners": 3, "max_runners": 2}, "min_runners must be between 0 and max_runners"),
        ({"sandbox_host_uid": 0}, "sandbox_host_uid must not be root's"),
    ],
)
def test_a_bad_config_is_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        RuntimeConfig(**changes)


def test_limits_take_the_defaults_and_the_caps():
    config = RuntimeConfig(default_timeout=30, timeout_cap=60, memory_mb=512, memory_max_mb=1024)

    default = CallLimits().resolved(config)
    capped = CallLimits(timeout=600, memory_mb=1024, cpu_seconds=2.5).resolved(config)

    assert (default.timeout, default.memory_mb, default.cpu_seconds) == (30, 512, 30)
    assert (capped.timeout, capped.memory_mb, capped.cpu_seconds) == (60, 1024, 3)
    with pytest.raises(ValueError, match="memory_mb must be between 16 and 1024"):
        CallLimits(memory_mb=2048).resolved(config)
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        CallLimits(timeout=0).resolved(config)
