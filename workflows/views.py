"""The live run page, `/runs/<id>/`: signed-in users who may follow the run (its requester and
staff, as its websocket and API allow)."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from atom_site.events.read import SUBJECT_KINDS, FollowRefused, follow_check
from workflows.models import WorkflowRun
from workflows.pages import run_page_read


@login_required
def run_page(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(
        WorkflowRun.objects.select_related("workflow", "version", "requested_by"), pk=run_id
    )
    try:
        follow_check(SUBJECT_KINDS["run"], run, user=request.user, key=None)
    except FollowRefused as refused:
        raise PermissionDenied(str(refused)) from None
    page = run_page_read(run=run, user=request.user)
    return render(request, "workflows/run.html", {"page": page, "run": run})
