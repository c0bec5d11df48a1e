from django.shortcuts import render
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.response import Response
from rest_framework.reverse import reverse

from vio_manager.services import last_answered_ping


def home(request):
    from deployments.views.health import overview
    from inventory.models import NsxManager, VCenter

    return render(request, "home.html", {
        "last_ping": last_answered_ping(),
        "vcenters": VCenter.objects.order_by("name"),
        "nsx_managers": NsxManager.objects.order_by("name"),
        "clouds": overview(),  # every vCenter with its deployments and their health
    })


@extend_schema(responses={200: {"type": "object", "additionalProperties": {"type": "string", "format": "uri"},
                                 "description": "collection name: its URL"}})
@api_view(["GET"])
def api_root(request, format=None):
    """The API's entry point: links to each collection (more arrive with each feature)."""
    from deployments.api.views import api_links

    return Response({
        **api_links(request, format),
        "vcenters": reverse("api-vcenter-list", request=request, format=format),
        "nsx_managers": reverse("api-nsx-manager-list", request=request, format=format),
        "tokens": reverse("api-token-list", request=request, format=format),
        "audit_events": reverse("api-audit-event-list", request=request, format=format),
        "health": reverse("api-health", request=request, format=format),
    })


@extend_schema(responses={200: inline_serializer("Health", {
    "database": serializers.ChoiceField(["ok"], help_text="answered this request"),
    "worker": inline_serializer("WorkerHealth", {
        "last_seen": serializers.DateTimeField(allow_null=True, help_text="when a worker last answered a ping"),
        "hostname": serializers.CharField(allow_null=True),
    }),
})})
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
