"""perf's plain pages, included at the site's root (the dashboard lives in the admin)."""

from django.urls import path

from perf.views import metrics_view

urlpatterns = [
    path("metrics", metrics_view, name="metrics"),
]
