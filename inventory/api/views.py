"""REST API for vCenter and NSX Manager connections and the discovered inventory (thin: the
services do the work)."""

from django.db.models import ProtectedError
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.response import Response
from rest_framework.reverse import reverse

from inventory import models as m
from inventory.api import responses as r
from inventory.api import serializers as s
from inventory.services import endpoints, sync
from inventory.services.live import liveness, one_snapshot
from inventory.services.errors import CertificateNotReviewed, ServiceError
from vio_manager.access import audit
from vio_manager.access.roles import ADMIN, OPERATOR
from vio_manager.api.errors import conflict
from vio_manager.api.pagination import Pagination
from vio_manager.api.schema import ErrorResponseSerializer


def as_validation_error(exc: ServiceError) -> ValidationError:
    return ValidationError({exc.field or "non_field_errors": [ErrorDetail(exc.message, code=exc.code)]})


class EndpointViewSet(viewsets.ModelViewSet):
    """Create reads the server's certificate for review; accept-certificate pins it."""

    model = None
    write_role = ADMIN  # credentials and trust; test-connection and sync are the operator's too

    def get_queryset(self):
        return self.model.objects.order_by("name")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        try:
            serializer.instance = endpoints.register(self.model, **data)
        except ServiceError as exc:
            raise as_validation_error(exc) from None
        audit.record(self.request, f"{audit.noun(self.model)}.create", serializer.instance,
                     {name: data.get(name) for name in ("host", "port", "username")})

    def perform_update(self, serializer):
        try:
            serializer.instance = endpoints.update(serializer.instance, **serializer.validated_data)
        except ServiceError as exc:
            raise as_validation_error(exc) from None
        changed = serializer.validated_data
        audit.record(self.request, f"{audit.noun(self.model)}.update", serializer.instance,
                     {"fields": sorted(name for name in changed if name != "password"),
                      "credentials_changed": bool(changed.get("password"))})

    def perform_destroy(self, instance):
        target = audit.Target.of(instance)
        instance.delete()
        audit.record(self.request, f"{target.type}.delete", target)

    def destroy(self, request, *args, **kwargs):
        try:
            return super().destroy(request, *args, **kwargs)
        except ProtectedError as exc:
            users = ", ".join(sorted({str(obj._meta.verbose_name) for obj in exc.protected_objects}))
            return conflict("in_use", f"This {self.model._meta.verbose_name} is used by: {users}; delete those first.")

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
        audit.record(request, f"{audit.noun(endpoint)}.accept_certificate", endpoint,
                     {"fingerprint": endpoint.certificate_sha256, "status": endpoint.status})
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
        audit.record(request, f"{audit.noun(endpoint)}.refresh_certificate", endpoint,
                     {"presented": endpoint.presented_certificate.get("sha256")})
        return self._respond(endpoint)

    @action(detail=True, methods=["post"], url_path="test-connection", serializer_class=serializers.Serializer,
            write_role=OPERATOR)
    def test_connection(self, request, pk=None):
        endpoint = self.get_object()
        if not endpoint.is_pinned:
            return conflict("certificate_pending", "Accept the server's certificate first.")
        endpoint = endpoints.check_connection(endpoint)
        audit.record(request, f"{audit.noun(endpoint)}.test_connection", endpoint, {"status": endpoint.status})
        return self._respond(endpoint)

    @action(detail=True, methods=["post"], serializer_class=serializers.Serializer, write_role=OPERATOR)
    def sync(self, request, pk=None):
        endpoint = self.get_object()
        if not endpoint.is_pinned:
            return conflict("certificate_pending", "Accept the server's certificate first.")
        if not sync.request_sync(endpoint):
            return conflict("sync_in_progress", f"A sync of {endpoint.name} is already {endpoint.sync_state}.")
        audit.record(request, f"{audit.noun(endpoint)}.sync", endpoint)
        return Response(r.SyncRequestedSerializer({"sync_state": endpoint.sync_state,
                                                   "requested_at": endpoint.sync_requested_at}).data,
                        status=status.HTTP_202_ACCEPTED)

    @action(detail=True, methods=["get"], url_path="sync-records", serializer_class=s.SyncRecordSerializer,
            pagination_class=None)
    def sync_records(self, request, pk=None):
        records = self.get_object().sync_records.all()[:20]
        return Response(s.SyncRecordSerializer(records, many=True).data)


def documented(serializer):
    """The connection actions' OpenAPI description: most answer with the connection itself."""
    pending = OpenApiResponse(ErrorResponseSerializer, description="the certificate is not accepted yet "
                              "(certificate_pending), or a sync is already queued or running (sync_in_progress)")
    return extend_schema_view(
        accept_certificate=extend_schema(
            request=s.AcceptCertificateSerializer, description="Pin the certificate you reviewed, then connect and sync.",
            responses={200: serializer, 409: OpenApiResponse(r.CertificateConflictSerializer, description=(
                "the server now presents another certificate: review it (certificate_not_reviewed)"))}),
        refresh_certificate=extend_schema(request=None, responses={200: serializer},
                                          description="Read the certificate the server presents now, for review."),
        test_connection=extend_schema(request=None, responses={200: serializer, 409: pending},
                                      description="Log in over the pinned certificate; the status says how it went."),
        sync=extend_schema(request=None, responses={202: r.SyncRequestedSerializer, 409: pending},
                           description="Queue an inventory sync."),
        sync_records=extend_schema(responses={200: s.SyncRecordSerializer(many=True)},
                                   description="The last 20 syncs, newest first."),
        destroy=extend_schema(responses={204: None, 409: OpenApiResponse(
            ErrorResponseSerializer, description="still used by an NSX Manager connection or a deployment (in_use)")}),
    )


@documented(s.VCenterSerializer)
class VCenterViewSet(EndpointViewSet):
    model = m.VCenter
    serializer_class = s.VCenterSerializer


@documented(s.NsxManagerSerializer)
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
    "templates": (m.VmTemplate, s.VmTemplateSerializer, []),
    "vms": (m.VirtualMachine, s.VirtualMachineSerializer, ["datacenter"]),
}


class InventorySummarySerializer(r.InventorySummarySerializer):
    KINDS = tuple(INVENTORY)


class InventoryRootView(generics.GenericAPIView):
    """What the last sync found in this vCenter: counts, and a link per kind."""

    serializer_class = InventorySummarySerializer

    def get(self, request, vcenter_pk):
        vcenter = generics.get_object_or_404(m.VCenter, pk=vcenter_pk)
        live = liveness(vcenter)
        body = {"last_synced_at": vcenter.last_synced_at, "is_stale": vcenter.is_stale, "sync_state": vcenter.sync_state,
                "is_live": live["is_live"], "confirmed_at": live["confirmed_at"],
                "live": reverse("api-vcenter-inventory-live", args=[vcenter.pk], request=request)}
        for kind, (model, _, _) in INVENTORY.items():
            body[kind] = {
                "count": model.objects.filter(vcenter=vcenter).count(),
                "url": reverse(f"api-vcenter-inventory-{kind}", args=[vcenter.pk], request=request),
            }
        return Response(InventorySummarySerializer(body).data)


class InventoryListView(generics.ListAPIView):
    """Filter with ?datacenter=<moid>, ?cluster=<moid> (hosts; and datastores and networks usable
    from every host of that cluster), ?kind=standard|distributed (networks), ?name=<part>."""

    kind = None  # one of INVENTORY's keys, given by the URL conf: InventoryListView.as_view(kind=...)

    def _kind(self):
        return INVENTORY[self.kind]

    @extend_schema(parameters=[r.InventoryFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_serializer_class(self):
        return self._kind()[1]

    def get_queryset(self):
        model, _, joins = self._kind()
        vcenter = generics.get_object_or_404(m.VCenter, pk=self.kwargs["vcenter_pk"])
        queryset = model.objects.filter(vcenter=vcenter).select_related(*joins).order_by("name", "moid")
        if model in (m.Datastore, m.Network):
            queryset = queryset.prefetch_related("clusters")
        filters = r.InventoryFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        params = filters.validated_data
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


class VmPagination(Pagination):
    """Pages of at most a few hundred VMs: a vCenter may hold 40,000."""

    default_limit = 100
    max_limit = 500


class VmListView(generics.ListAPIView):
    """Every VM and template of this vCenter, live when a watcher keeps the picture: paged
    (?limit=, at most 500; ?offset=) and filtered (?name=, ?power_state=, ?host=, ?cluster=,
    ?deployment=, ?template=)."""

    serializer_class = s.VirtualMachineSerializer
    pagination_class = VmPagination

    @extend_schema(parameters=[r.VmFilterSerializer])
    def get(self, request, *args, **kwargs):
        with one_snapshot():  # the count and the page's rows from one picture
            return super().get(request, *args, **kwargs)

    def get_queryset(self):
        vcenter = generics.get_object_or_404(m.VCenter, pk=self.kwargs["vcenter_pk"])
        filters = r.VmFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return vm_queryset(vcenter, filters.validated_data)


def vm_queryset(vcenter, params: dict):
    """The VMs matching the filters, in a stable order (name, moid): the API's list and the VMs page."""
    rows = m.VirtualMachine.objects.filter(vcenter=vcenter).select_related("datacenter").order_by("name", "moid")
    if params.get("name"):
        rows = rows.filter(name__icontains=params["name"])
    for param, column in (("power_state", "power_state"), ("host", "host_moid"), ("cluster", "cluster_moid"),
                          ("deployment", "deployment_id")):
        if params.get(param):
            rows = rows.filter(**{column: params[param]})
    if params.get("template") is not None:
        rows = rows.filter(template=params["template"])
    return rows


class LivenessView(generics.GenericAPIView):
    """Whether the picture is live, since when vCenter last confirmed it, and its generation (which
    rises with every stored change): what the inventory pages poll."""

    serializer_class = s.LivenessSerializer
    pagination_class = None

    def get(self, request, vcenter_pk):
        vcenter = generics.get_object_or_404(m.VCenter, pk=vcenter_pk)
        return Response(s.LivenessSerializer(liveness(vcenter)).data)


class NsxObjectsView(generics.ListAPIView):
    KINDS = {"transport-zones": (m.NsxTransportZone, s.TransportZoneSerializer),
             "edges": (m.NsxEdge, s.EdgeSerializer), "controllers": (m.NsxController, s.ControllerSerializer)}

    kind = None  # one of KINDS, given by the URL conf: NsxObjectsView.as_view(kind=...)

    def get_serializer_class(self):
        return self.KINDS[self.kind][1]

    def get_queryset(self):
        manager = generics.get_object_or_404(m.NsxManager, pk=self.kwargs["manager_pk"])
        return self.KINDS[self.kind][0].objects.filter(manager=manager).order_by("object_id")
