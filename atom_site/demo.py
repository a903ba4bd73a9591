"""The demo data `make up` loads into a fresh (or existing) data dir."""


def demo_load() -> str:
    """Load every app's demo data; return a one-line summary."""
    return "Demo data: nothing to load yet."
