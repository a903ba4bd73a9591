from django.apps import AppConfig
from django.conf import settings
from django.core.management import call_command
from django.db.models.signals import post_migrate

from atom_site.pools import pools_fork_safe


class AtomSiteConfig(AppConfig):
    name = "atom_site"
    verbose_name = "Atom"

    def ready(self) -> None:
        # post_migrate is sent only for apps with models; "skills" always has them.
        post_migrate.connect(channel_database_migrate, sender=self.apps.get_app_config("skills"))
        pools_fork_safe()


def channel_database_migrate(*, using: str, plan=None, **kwargs) -> None:
    """`manage.py migrate` also migrates the embedded channel layer's own SQLite file.

    Without it every publish fails until someone remembers `migrate --database channels`.
    `flush` sends the same signal without a plan; it has nothing to migrate.
    """
    if plan is not None and using == "default" and "channels" in settings.DATABASES:
        call_command("migrate", database="channels", interactive=False, verbosity=0)
