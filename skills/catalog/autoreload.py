"""Django's development autoreloader and skill files.

Apart from the watcher so that connecting it at start-up does not import watchdog in every
process (the web server, workers, commands).
"""

from pathlib import Path

from django.conf import settings


def autoreload_skip_skill_files(sender: object, file_path: Path, **kwargs: object) -> bool:
    """Keep Django's development autoreloader from restarting the server when a skill file
    changes: the watcher turns that edit into a version, and runners reload it themselves."""
    skills_dir = Path(settings.ATOM_SKILLS_DIR).resolve()
    return Path(file_path).resolve().is_relative_to(skills_dir)
