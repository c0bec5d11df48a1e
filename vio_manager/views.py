from django.shortcuts import render
from rest_framework.decorators import api_view
from rest_framework.response import Response
from rest_framework.reverse import reverse

from vio_manager.services import last_answered_ping


def home(request):
    from inventory.models import NsxManager, VCenter

    return render(request, "home.html", {
        "last_ping": last_answered_ping(),
        "vcenters": VCenter.objects.order_by("name"),
        "nsx_managers": NsxManager.objects.order_by("name"),
    })


@api_view(["GET"])
def api_root(request, format=None):
    """The API's entry point: links to each collection (more arrive with each feature)."""
    from deployments.api.views import api_links

    return Response({
        **api_links(request, format),
        "vcenters": reverse("api-vcenter-list", request=request, format=format),
        "nsx_managers": reverse("api-nsx-manager-list", request=request, format=format),
        "health": reverse("api-health", request=request, format=format),
    })


@api_view(["GET"])
def api_health(request, format=None):
    """The database answers (this request read it) and when a worker last answered a ping."""
    ping = last_answered_ping()
    return Response(
        {
            "database": "ok",
            "worker": {
                "last_seen": ping.answered_at if ping else None,
                "hostname": ping.worker if ping else None,
            },
        }
    )
