from django.apps import AppConfig


class AtomSiteConfig(AppConfig):
    name = "atom_site"
    verbose_name = "Atom"
