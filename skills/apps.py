from django.apps import AppConfig


class SkillsConfig(AppConfig):
    name = "skills"
    verbose_name = "Skills"

    def ready(self) -> None:
        # The watcher's own signal; its observer runs in `manage.py skills watch` alone.
        from django.utils.autoreload import file_changed

        from skills.catalog.announcements import catalog_writes_followed
        from skills.catalog.autoreload import autoreload_skip_skill_files

        file_changed.connect(autoreload_skip_skill_files, dispatch_uid="skills-autoreload")
        catalog_writes_followed()
        self._perf_register()

    def _perf_register(self) -> None:
        """What perf's figures need from this app: the operations it records, the rows that are
        work queued for an agent, environments' lockfiles, version numbers, and the operations
        `manage.py perf benchmark` times."""
        from perf.registry import (
            lockfile_lookup_register,
            queued_work_register,
            version_names_register,
        )
        from skills import benchmarks  # noqa: F401 (registers on import)
        from skills.catalog.versions import skill_version_names
        from skills.installer.maintenance import environment_lockfile
        from skills.models import InstallJob, InstallJobStatus, SkillRun, SkillRunStatus
        from skills.operations import operations_register

        operations_register()
        queued_work_register(SkillRun, status=SkillRunStatus.QUEUED)
        queued_work_register(InstallJob, status=InstallJobStatus.QUEUED)
        lockfile_lookup_register(environment_lockfile)
        version_names_register(skill_version_names)
