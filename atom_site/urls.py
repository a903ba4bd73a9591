from django.contrib import admin
from django.urls import include, path

from atom_site.api import api
from atom_site.favicon import favicon_view

urlpatterns = [
    path("favicon.ico", favicon_view, name="favicon"),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("", include("perf.urls")),
    path("marketplace/", include("skills.marketplace.urls")),
    path("runs/", include("workflows.urls")),
]
