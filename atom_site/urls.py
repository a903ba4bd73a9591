from django.contrib import admin
from django.urls import path

from atom_site.api import api
from perf.views import metrics_view
from skills.marketplace_views import (
    marketplace_index,
    marketplace_install,
    marketplace_install_job,
    marketplace_run,
    marketplace_skill,
    marketplace_try,
)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("metrics", metrics_view, name="metrics"),
    path("marketplace/", marketplace_index, name="marketplace"),
    path("marketplace/skills/<slug:slug>/", marketplace_skill, name="marketplace-skill"),
    path(
        "marketplace/skills/<slug:slug>/install",
        marketplace_install,
        name="marketplace-install",
    ),
    path("marketplace/skills/<slug:slug>/try", marketplace_try, name="marketplace-try"),
    path(
        "marketplace/installs/<int:job_id>/",
        marketplace_install_job,
        name="marketplace-install-job",
    ),
    path("marketplace/runs/<int:run_id>/", marketplace_run, name="marketplace-run"),
]
