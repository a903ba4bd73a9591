"""The marketplace's pages, included at /marketplace/ by the project's urls."""

from django.urls import path

from skills.marketplace.views import (
    marketplace_index,
    marketplace_install,
    marketplace_install_job,
    marketplace_run,
    marketplace_skill,
    marketplace_try,
)

urlpatterns = [
    path("", marketplace_index, name="marketplace"),
    path("skills/<slug:slug>/", marketplace_skill, name="marketplace-skill"),
    path("skills/<slug:slug>/install", marketplace_install, name="marketplace-install"),
    path("skills/<slug:slug>/try", marketplace_try, name="marketplace-try"),
    path("installs/<int:job_id>/", marketplace_install_job, name="marketplace-install-job"),
    path("runs/<int:run_id>/", marketplace_run, name="marketplace-run"),
]
