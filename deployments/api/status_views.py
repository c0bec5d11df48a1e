"""The read side of /api/v1/deployments: list filters, runs with their steps, the event log with a
since-cursor, the VMs, and the one-call snapshot the deployment page polls. Thin: the status
service reads, the serializers shape.

The polled reads (the deployment, its status snapshot, its event log) answer with an ETag and,
when the request's If-None-Match holds it, 304 Not Modified after one small query
(deployments.services.freshness): nothing else is read or built for a poll that finds nothing new."""

import hashlib

from django.utils.cache import get_conditional_response
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.decorators import action
from rest_framework.response import Response

from deployments.api import status_serializers as ss
from deployments.api.serializers import DeploymentSerializer
from deployments.services import freshness, status
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
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match", str, OpenApiParameter.HEADER, required=False,
    description="the ETag of the last answer: 304 Not Modified, with no body, while nothing it shows has changed")
ETAG = OpenApiParameter("ETag", str, OpenApiParameter.HEADER, response=[200, 304],
                        description="send it back as If-None-Match on the next poll")
NOT_MODIFIED = OpenApiResponse(description="nothing changed since the answer with this ETag: no body")


# The reads of one deployment: it comes with its latest run and progress in one query.
ONE_DEPLOYMENT_READS = frozenset({"retrieve", "runs", "run", "events", "vms", "snapshot", "run_timeline"})


class DeploymentStatusMixin:
    """Mixed into DeploymentViewSet (before DRF's mixins)."""

    def _conditional(self, request, answer, run_number: int | None = None):
        """answer(deployment) with its ETag, or 304 Not Modified when If-None-Match has that ETag.
        What the tag is made of is read before (or with) what the answer shows: a change in between
        gives a newer answer under the older tag, so the client's next poll is answered in full
        again (never a change missed)."""
        try:
            pk = int(self.kwargs[self.lookup_url_kwarg or self.lookup_field])
        except (TypeError, ValueError):
            raise exceptions.NotFound() from None
        if "HTTP_IF_NONE_MATCH" not in request.META and run_number is None:
            # Nothing to compare: one read gives the deployment, its latest run and their mark.
            deployment = self.get_object()
            etag = self._etag(request, freshness.mark(deployment, status.latest_run(deployment)))
            refused = get_conditional_response(request, etag=etag)  # If-Match, should a client send it
            response = refused if refused is not None else answer(deployment)
        else:
            if not 0 < pk < 2**63 or (run_number is not None and run_number >= 2**31):
                raise exceptions.NotFound()  # beyond the columns: no such deployment or run
            marked = freshness.marked(pk, run_number)
            if marked is None:
                raise exceptions.NotFound()
            self.check_object_permissions(request, marked)
            etag = self._etag(request, marked.mark)
            unchanged = get_conditional_response(request, etag=etag)
            response = unchanged if unchanged is not None else answer(self.get_object())
        if response.status_code in (200, 304):
            response["ETag"] = etag
        return response

    def _etag(self, request, mark: str) -> str:
        # The same data shows differently per URL (its query, the absolute URLs in it) and format.
        seed = f"{self.action}|{request.build_absolute_uri()}|{request.accepted_renderer.format}|{mark}"
        return f'W/"{hashlib.sha256(seed.encode()).hexdigest()[:32]}"'

    @extend_schema(parameters=[IF_NONE_MATCH, ETAG], responses={200: DeploymentSerializer, 304: NOT_MODIFIED})
    def retrieve(self, request, *args, **kwargs):
        return self._conditional(request, lambda deployment: Response(self.get_serializer(deployment).data))

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

    @extend_schema(responses={200: ss.EventPageSerializer, 304: NOT_MODIFIED},
                   parameters=[ss.EventQuerySerializer, IF_NONE_MATCH, ETAG])
    @action(detail=True, methods=["get"], url_path="events", url_name="events")
    def events(self, request, pk=None):
        """The run's event log after `since`, oldest first. Tail it by asking again with next_since
        until `done`; `has_more` means ask again at once."""
        query = _query(ss.EventQuerySerializer, request)

        def answer(deployment):
            run = _run(deployment, query.get("run"))
            page = status.events_page(run, query["since"], query["limit"], fresh=True)  # run: read in this request
            return Response(EVENT_PAGE.to_representation(page))

        return self._conditional(request, answer, query.get("run"))

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

    @extend_schema(responses={200: ss.StatusSnapshotSerializer, 304: NOT_MODIFIED},
                   parameters=[ss.EventQuerySerializer, IF_NONE_MATCH, ETAG])
    @action(detail=True, methods=["get"], url_path="status", url_name="status")
    def snapshot(self, request, pk=None):
        """Everything the deployment page shows in one call: run, progress, steps, VMs and the events
        after `since`. Ask again with since=next_since while `live`."""
        query = _query(ss.EventQuerySerializer, request)

        def answer(deployment):
            try:
                snapshot = status.status_snapshot(deployment, query["since"], query.get("run"), query["limit"])
            except status.RunNotFound as exc:
                raise exceptions.NotFound(str(exc)) from None
            return Response(STATUS_SNAPSHOT.to_representation(snapshot))

        return self._conditional(request, answer, query.get("run"))

    @extend_schema(responses=ss.TimelineSerializer, parameters=[RUN_NUMBER])
    @action(detail=True, methods=["get"], url_path=r"runs/(?P<number>[0-9]+)/timeline", url_name="run-timeline")
    def run_timeline(self, request, pk=None, number=None):
        """Where the run's time went: its steps in lanes (the shared steps, then one lane per VM),
        each as segments (waiting for a slot, queued for a worker, running, with every attempt's
        outcome), the critical path and the totals."""
        return Response(TIMELINE.to_representation(timeline_of(_run(self.get_object(), int(number)))))

