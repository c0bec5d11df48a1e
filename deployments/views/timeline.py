"""The run timeline as an HTML fragment (summary, critical path, legend and the SVG chart): the
deployment page fetches it again every few seconds while the run is live and swaps it in
(static/js/timeline.js). Thin: services.timeline reads and lays out."""

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from deployments.services import timeline


@require_safe
@never_cache
def run_timeline(request, pk, number):
    try:
        run = timeline.run_of(pk, number)
    except timeline.TimelineNotFound as exc:
        raise Http404(str(exc)) from None
    return render(request, "deployments/_timeline.html", timeline.page_context(run))
