"""The read side of /api/v1/deployments: list filters, runs with their steps, the event log with a
since-cursor, the VMs, and the one-call snapshot the deployment page polls. Thin: the status
service reads, the serializers shape."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.decorators import action
from rest_framework.response import Response

from deployments.api import status_serializers as ss
from deployments.services import status
from deployments.services.timeline import timeline as timeline_of


def _query(serializer_class, request) -> dict:
    params = serializer_class(data=request.query_params)
    params.is_valid(raise_exception=True)
    return params.validated_data


def _run(deployment, number):
    try:
        return status.get_run(deployment, number)
    except status.RunNotFound as exc:
        raise exceptions.NotFound(str(exc)) from None


# Shapes that need no context, made once for the process: a poll no longer builds their fields.
EVENT_PAGE = ss.EventPageSerializer()
STATUS_SNAPSHOT = ss.StatusSnapshotSerializer()
TIMELINE = ss.TimelineSerializer()

RUN_NUMBER = OpenApiParameter("number", int, OpenApiParameter.PATH, description="the run's number (1, 2, ...)")


# The reads of one deployment: it comes with its latest run and progress in one statement.
ONE_DEPLOYMENT_READS = frozenset({"retrieve", "runs", "run", "events", "vms", "snapshot", "run_timeline"})


class DeploymentStatusMixin:
    """Mixed into DeploymentViewSet (before DRF's mixins)."""

    def get_object(self):
        if self.action not in ONE_DEPLOYMENT_READS:
            return super().get_object()
        deployment = status.deployment_with_latest_run(self.kwargs[self.lookup_url_kwarg or self.lookup_field])
        if deployment is None:
            raise exceptions.NotFound()
        self.check_object_permissions(self.request, deployment)
        return deployment

    def get_queryset(self):
        queryset = status.deployments()
        if getattr(self, "action", None) == "list":
            query = _query(ss.DeploymentFilterSerializer, self.request)
            queryset = status.filter_deployments(
                queryset, status=query.get("status", ()), group=query.get("status_group", ""),
                vcenter=query.get("vcenter"), name=query.get("name", ""), created_by=query.get("created_by", ""))
        return queryset

    @extend_schema(parameters=[ss.DeploymentFilterSerializer])
    def list(self, request, *args, **kwargs):
        """Deployments, newest first, filtered by status, status group, vCenter, name or creator."""
        return super().list(request, *args, **kwargs)

    @extend_schema(responses=ss.RunSummarySerializer(many=True))
    @action(detail=True, methods=["get"], url_path="runs", url_name="runs", pagination_class=None)
    def runs(self, request, pk=None):
        """Every run of the deployment, newest first, with its weighted progress."""
        return Response(ss.RunSummarySerializer(status.runs_of(self.get_object()), many=True).data)

    @extend_schema(responses=ss.RunDetailSerializer, parameters=[RUN_NUMBER])
    @action(detail=True, methods=["get"], url_path=r"runs/(?P<number>[0-9]+)", url_name="run")
    def run(self, request, pk=None, number=None):
        """One run with each of its steps: status, attempt, times, duration, error and output."""
        run = _run(self.get_object(), int(number))
        return Response(ss.RunDetailSerializer(status.run_detail(run)).data)

    @extend_schema(responses=ss.EventPageSerializer, parameters=[ss.EventQuerySerializer])
    @action(detail=True, methods=["get"], url_path="events", url_name="events")
    def events(self, request, pk=None):
        """The run's event log after `since`, oldest first. Tail it by asking again with next_since
        until `done`; `has_more` means ask again at once."""
        query = _query(ss.EventQuerySerializer, request)
        run = _run(self.get_object(), query.get("run"))
        page = status.events_page(run, query["since"], query["limit"], fresh=True)  # run: read in this request
        return Response(EVENT_PAGE.to_representation(page))

    @extend_schema(responses=ss.VmListSerializer, parameters=[ss.RunQuerySerializer])
    @action(detail=True, methods=["get"], url_path="vms", url_name="vms")
    def vms(self, request, pk=None):
        """The run's VMs: role, addresses, moid, power state and guest address as the steps recorded
        them (vCenter is not asked)."""
        query = _query(ss.RunQuerySerializer, request)
        deployment = self.get_object()
        run = _run(deployment, query.get("run"))
        return Response(ss.VmListSerializer({"run": run.number if run else None,
                                             "vms": status.vms(deployment, run)}).data)

    @extend_schema(responses=ss.StatusSnapshotSerializer, parameters=[ss.EventQuerySerializer])
    @action(detail=True, methods=["get"], url_path="status", url_name="status")
    def snapshot(self, request, pk=None):
        """Everything the deployment page shows in one call: run, progress, steps, VMs and the events
        after `since`. Ask again with since=next_since while `live`."""
        query = _query(ss.EventQuerySerializer, request)
        try:
            snapshot = status.status_snapshot(self.get_object(), query["since"], query.get("run"), query["limit"])
        except status.RunNotFound as exc:
            raise exceptions.NotFound(str(exc)) from None
        return Response(STATUS_SNAPSHOT.to_representation(snapshot))

    @extend_schema(responses=ss.TimelineSerializer, parameters=[RUN_NUMBER])
    @action(detail=True, methods=["get"], url_path=r"runs/(?P<number>[0-9]+)/timeline", url_name="run-timeline")
    def run_timeline(self, request, pk=None, number=None):
        """Where the run's time went: its steps in lanes (the shared steps, then one lane per VM),
        each as segments (waiting for a slot, queued for a worker, running, with every attempt's
        outcome), the critical path and the totals."""
        return Response(TIMELINE.to_representation(timeline_of(_run(self.get_object(), int(number)))))

