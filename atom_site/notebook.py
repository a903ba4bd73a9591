"""Set up Django inside a Jupyter notebook: `from atom_site.notebook import setup; setup()`."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup() -> None:
    """Configure Django for the notebook's kernel, once.

    Jupyter runs cells inside an event loop, where Django refuses synchronous ORM calls by
    default; a notebook runs one cell at a time, so allowing them is safe here.
    """
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atom_site.settings")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()
