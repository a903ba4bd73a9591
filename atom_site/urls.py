from django.contrib import admin
from django.urls import path

from atom_site.api import api
from skills.marketplace_views import marketplace_index, marketplace_skill

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("marketplace/", marketplace_index, name="marketplace"),
    path("marketplace/skills/<slug:slug>/", marketplace_skill, name="marketplace-skill"),
]
