"""REST API for vCenter and NSX Manager connections and the discovered inventory (thin: the
services do the work)."""

from django.db.models import ProtectedError
from rest_framework import generics, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.response import Response
from rest_framework.reverse import reverse

from inventory import models as m
from inventory.api import serializers as s
from inventory.services import endpoints, sync
from inventory.services.errors import CertificateNotReviewed, ServiceError
from vio_manager.api.errors import conflict


def as_validation_error(exc: ServiceError) -> ValidationError:
    return ValidationError({exc.field or "non_field_errors": [ErrorDetail(exc.message, code=exc.code)]})


class EndpointViewSet(viewsets.ModelViewSet):
    """Create reads the server's certificate for review; accept-certificate pins it."""

    model = None

    def get_queryset(self):
        return self.model.objects.order_by("name")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        try:
            serializer.instance = endpoints.register(self.model, **data)
        except ServiceError as exc:
            raise as_validation_error(exc) from None

    def perform_update(self, serializer):
        try:
            serializer.instance = endpoints.update(serializer.instance, **serializer.validated_data)
        except ServiceError as exc:
            raise as_validation_error(exc) from None

    def destroy(self, request, *args, **kwargs):
        try:
            return super().destroy(request, *args, **kwargs)
        except ProtectedError:
            return conflict("in_use", "This vCenter is used by an NSX Manager connection; delete that first.")

    def _respond(self, endpoint):
        """The connection as the list and detail show it (actions have their own request body)."""
        return Response(type(self).serializer_class(endpoint, context=self.get_serializer_context()).data)

    @action(detail=True, methods=["post"], url_path="accept-certificate", serializer_class=s.AcceptCertificateSerializer)
    def accept_certificate(self, request, pk=None):
        endpoint = self.get_object()
        body = s.AcceptCertificateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            endpoint = endpoints.accept_certificate(endpoint, body.validated_data["fingerprint"])
        except CertificateNotReviewed as exc:
            endpoint.refresh_from_db()
            return conflict(exc.code, exc.message, presented_certificate=endpoint.presented_certificate)
        except ServiceError as exc:
            raise as_validation_error(exc) from None
        if endpoint.status == "connected":
            sync.request_sync(endpoint)
        return self._respond(endpoint)

    @action(detail=True, methods=["post"], url_path="refresh-certificate", serializer_class=serializers.Serializer)
    def refresh_certificate(self, request, pk=None):
        endpoint = self.get_object()
        try:
            endpoints.refresh_presented_certificate(endpoint)
        except ServiceError as exc:
            raise as_validation_error(exc) from None
        return self._respond(endpoint)

    @action(detail=True, methods=["post"], url_path="test-connection", serializer_class=serializers.Serializer)
    def test_connection(self, request, pk=None):
        endpoint = self.get_object()
        if not endpoint.is_pinned:
            return conflict("certificate_pending", "Accept the server's certificate first.")
        endpoint = endpoints.check_connection(endpoint)
        return self._respond(endpoint)

    @action(detail=True, methods=["post"], serializer_class=serializers.Serializer)
    def sync(self, request, pk=None):
        endpoint = self.get_object()
        if not endpoint.is_pinned:
            return conflict("certificate_pending", "Accept the server's certificate first.")
        if not sync.request_sync(endpoint):
            return conflict("sync_in_progress", f"A sync of {endpoint.name} is already {endpoint.sync_state}.")
        return Response({"sync_state": endpoint.sync_state, "requested_at": endpoint.sync_requested_at},
                        status=status.HTTP_202_ACCEPTED)

    @action(detail=True, methods=["get"], url_path="sync-records", serializer_class=s.SyncRecordSerializer)
    def sync_records(self, request, pk=None):
        records = self.get_object().sync_records.all()[:20]
        return Response(s.SyncRecordSerializer(records, many=True).data)


class VCenterViewSet(EndpointViewSet):
    model = m.VCenter
    serializer_class = s.VCenterSerializer


class NsxManagerViewSet(EndpointViewSet):
    model = m.NsxManager
    serializer_class = s.NsxManagerSerializer

    def get_queryset(self):
        return m.NsxManager.objects.select_related("vcenter").order_by("name")


# kind in the URL -> (model, serializer, related names to join)
INVENTORY = {
    "datacenters": (m.Datacenter, s.DatacenterSerializer, []),
    "clusters": (m.Cluster, s.ClusterSerializer, ["datacenter"]),
    "hosts": (m.Host, s.HostSerializer, ["datacenter", "cluster"]),
    "datastores": (m.Datastore, s.DatastoreSerializer, ["datacenter"]),
    "networks": (m.Network, s.NetworkSerializer, ["datacenter", "switch"]),
    "switches": (m.DistributedSwitch, s.SwitchSerializer, ["datacenter"]),
    "resource-pools": (m.ResourcePool, s.ResourcePoolSerializer, ["cluster"]),
    "folders": (m.Folder, s.FolderSerializer, []),
    "templates": (m.VmTemplate, s.TemplateSerializer, []),
}


class InventoryRootView(generics.GenericAPIView):
    """What the last sync found in this vCenter: counts, and a link per kind."""

    serializer_class = serializers.Serializer

    def get(self, request, vcenter_pk):
        vcenter = generics.get_object_or_404(m.VCenter, pk=vcenter_pk)
        body = {"last_synced_at": vcenter.last_synced_at, "is_stale": vcenter.is_stale, "sync_state": vcenter.sync_state}
        for kind, (model, _, _) in INVENTORY.items():
            body[kind] = {
                "count": model.objects.filter(vcenter=vcenter).count(),
                "url": reverse("api-vcenter-inventory-list", args=[vcenter.pk, kind], request=request),
            }
        return Response(body)


class InventoryListView(generics.ListAPIView):
    """Filter with ?datacenter=<moid>, ?cluster=<moid> (hosts; and datastores and networks usable
    from every host of that cluster), ?kind=standard|distributed (networks), ?name=<part>."""

    def _kind(self):
        if self.kwargs["kind"] not in INVENTORY:
            from rest_framework.exceptions import NotFound

            raise NotFound(f"Unknown inventory kind; use one of {', '.join(INVENTORY)}.")
        return INVENTORY[self.kwargs["kind"]]

    def get_serializer_class(self):
        return self._kind()[1]

    def get_queryset(self):
        model, _, joins = self._kind()
        vcenter = generics.get_object_or_404(m.VCenter, pk=self.kwargs["vcenter_pk"])
        queryset = model.objects.filter(vcenter=vcenter).select_related(*joins).order_by("name", "moid")
        if model in (m.Datastore, m.Network):
            queryset = queryset.prefetch_related("clusters")
        params = self.request.query_params
        if params.get("datacenter") and model is not m.Datacenter and hasattr(model, "datacenter"):
            queryset = queryset.filter(datacenter__moid=params["datacenter"])
        if params.get("cluster"):
            if model is m.Host or model is m.ResourcePool:
                queryset = queryset.filter(cluster__moid=params["cluster"])
            elif model in (m.Datastore, m.Network):
                queryset = queryset.filter(clusters__moid=params["cluster"])
        if params.get("kind") and model is m.Network:
            queryset = queryset.filter(kind=params["kind"])
        if params.get("name"):
            queryset = queryset.filter(name__icontains=params["name"])
        return queryset


class NsxObjectsView(generics.ListAPIView):
    KINDS = {"transport-zones": (m.NsxTransportZone, s.TransportZoneSerializer),
             "edges": (m.NsxEdge, s.EdgeSerializer), "controllers": (m.NsxController, s.ControllerSerializer)}

    def get_serializer_class(self):
        return self.KINDS[self.kwargs["kind"]][1]

    def get_queryset(self):
        manager = generics.get_object_or_404(m.NsxManager, pk=self.kwargs["manager_pk"])
        return self.KINDS[self.kwargs["kind"]][0].objects.filter(manager=manager).order_by("object_id")
