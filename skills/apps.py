from django.apps import AppConfig


class SkillsConfig(AppConfig):
    name = "skills"
    verbose_name = "Skills"

    def ready(self) -> None:
        # Only a signal here: the watcher's observer runs in `manage.py skills watch` alone.
        from django.utils.autoreload import file_changed

        from skills.autoreload import autoreload_skip_skill_files

        file_changed.connect(autoreload_skip_skill_files, dispatch_uid="skills-autoreload")
