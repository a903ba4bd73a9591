"""The project's URLs plus a sign-in link, so a browser started by a test arrives signed in.

Only `test_dashboard_browser.py` routes through this module (with `pytest.mark.urls`).
"""

from django.contrib.auth import get_user_model, login
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path

from atom_site.urls import urlpatterns as project_urlpatterns


def sign_in_as(request: HttpRequest, username: str) -> HttpResponseRedirect:
    user = get_user_model().objects.get(username=username)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return HttpResponseRedirect(request.GET["next"])


urlpatterns = [path("test-sign-in/<str:username>/", sign_in_as), *project_urlpatterns]
