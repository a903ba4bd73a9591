"""The demo data `make up` loads into a fresh (or existing) data dir."""

from django.conf import settings
from django.contrib.auth import get_user_model

from skills.catalog.importer import ImportRefused, skills_import, sources_from_paths


def demo_load() -> str:
    """Import and approve the demo skill catalog; return a one-line summary."""
    folder = settings.ATOM_SKILLS_DIR
    if not folder.is_dir():
        return f"Demo catalog: {folder} does not exist; nothing imported."
    actor = get_user_model().objects.filter(username=settings.ATOM_ADMIN_USERNAME).first()
    sources, errors = sources_from_paths([folder])
    try:
        report = skills_import(sources=sources, errors=errors, actor=actor, approve=True)
    except ImportRefused as refused:
        details = "\n  ".join(str(error) for error in refused.errors)
        return f"Demo catalog: nothing imported from {folder}:\n  {details}"
    return f"Demo catalog from {folder}: {report.summary()}."
