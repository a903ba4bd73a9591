"""Timing samples for installs, through perf's recorder (operations "package_install",
"environment_cache_hit", "dependency_resolution")."""

from contextlib import AbstractContextManager, nullcontext
from typing import Any

try:
    from perf.recording import measure_performance, record_sample
except ImportError:  # perf is optional for the installer: installs work without samples
    measure_performance = None
    record_sample = None


def measured(operation: str, **context: Any) -> AbstractContextManager:
    """Time a block as one sample of `operation` (a no-op when perf is not installed)."""
    if measure_performance is None:
        return nullcontext()
    return measure_performance(operation, **context)


def sample_record(operation: str, seconds: float, **context: Any) -> None:
    """Record a duration measured by the caller (e.g. only when a lookup turned out a hit)."""
    if record_sample is not None:
        record_sample(operation, seconds, **context)
