"""The workflows' pages, included at /runs/ by the project's urls."""

from django.urls import path

from workflows.views import run_page

urlpatterns = [
    path("<int:run_id>/", run_page, name="workflow-run-page"),
]
