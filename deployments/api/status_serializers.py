"""Shapes of the read side (deployments.services.status): query parameters in, runs, steps, events,
VMs and the page snapshot out. The service builds plain dicts; these document and render them."""

from rest_framework import serializers

from deployments.choices import AttemptOutcome, DeploymentStatus, EventLevel, RunKind, RunStatus, StepStatus
from deployments.services.status import EVENT_LIMIT_DEFAULT, EVENT_LIMIT_MAX, STATUS_GROUPS

# --- query parameters -------------------------------------------------------------------------

# The columns' ranges (ids are bigint, run numbers int, event sequences bigint): the schema states them.
INT_MAX, BIGINT_MAX = 2**31 - 1, 2**63 - 1


class DeploymentFilterSerializer(serializers.Serializer):
    status = serializers.CharField(required=False, max_length=200, help_text="one status or several, comma-separated: "
                                   + ", ".join(DeploymentStatus.values))
    status_group = serializers.ChoiceField(choices=sorted(STATUS_GROUPS), required=False,
                                           help_text="active: queued, running or cancelling; terminal: succeeded, failed or cancelled")
    vcenter = serializers.IntegerField(required=False, min_value=1, max_value=BIGINT_MAX, help_text="id of the vCenter deployed to")
    name = serializers.CharField(required=False, max_length=32, help_text="the name contains this (any case)")
    created_by = serializers.CharField(required=False, max_length=150, help_text="username of who created it")

    def validate_status(self, value: str) -> list[str]:
        wanted = [part.strip() for part in value.split(",") if part.strip()]
        unknown = [part for part in wanted if part not in DeploymentStatus.values]
        if unknown:
            raise serializers.ValidationError(
                f"Unknown status {', '.join(unknown)}; use {', '.join(DeploymentStatus.values)}.", code="invalid_choice")
        return wanted


class RunQuerySerializer(serializers.Serializer):
    run = serializers.IntegerField(required=False, min_value=1, max_value=INT_MAX,
                                   help_text="the run's number; the latest run when omitted")


class EventQuerySerializer(RunQuerySerializer):
    since = serializers.IntegerField(required=False, min_value=0, max_value=BIGINT_MAX, default=0,
                                     help_text="return the events after this sequence number: 0, then each answer's next_since")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=EVENT_LIMIT_MAX, default=EVENT_LIMIT_DEFAULT,
                                     help_text=f"at most this many events (default {EVENT_LIMIT_DEFAULT}, max {EVENT_LIMIT_MAX})")


# --- responses --------------------------------------------------------------------------------


class RunSummarySerializer(serializers.Serializer):
    number = serializers.IntegerField()
    status = serializers.ChoiceField(choices=RunStatus.choices)
    status_label = serializers.CharField()
    progress = serializers.FloatField(help_text="weighted share of the steps done, 0-100")
    error = serializers.CharField(allow_blank=True)
    cancel_requested = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    active = serializers.BooleanField()
    can_retry = serializers.BooleanField(help_text="the run failed or was stopped: POST retry resumes it from there")
    can_cancel = serializers.BooleanField(help_text="the run is queued or running: POST cancel stops it between steps")
    kind = serializers.ChoiceField(choices=RunKind.choices, help_text="deploy, or teardown")
    kind_label = serializers.CharField()


class StepSerializer(serializers.Serializer):
    key = serializers.CharField()
    kind = serializers.CharField()
    target = serializers.CharField(allow_blank=True)
    label = serializers.CharField(help_text='the step in words, e.g. "Clone cloud1-lb-01"')
    status = serializers.ChoiceField(choices=StepStatus.choices)
    attempt = serializers.IntegerField()
    weight = serializers.IntegerField()
    depends_on = serializers.ListField(child=serializers.CharField())
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    duration = serializers.FloatField(allow_null=True, help_text="seconds; a running step's counts up to now")
    error = serializers.CharField(allow_blank=True)
    output = serializers.JSONField(help_text="what the step made or found, e.g. {\"vm\": moid}")
    waiting_for = serializers.CharField(allow_blank=True, help_text="what the running step waits for now")
    waiting_since = serializers.DateTimeField(allow_null=True)


class RunDetailSerializer(RunSummarySerializer):
    steps = StepSerializer(many=True)


class EventSerializer(serializers.Serializer):
    sequence = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    level = serializers.ChoiceField(choices=EventLevel.choices)
    step_key = serializers.CharField(allow_blank=True)
    message = serializers.CharField()


class EventPageSerializer(serializers.Serializer):
    run = serializers.IntegerField(allow_null=True, help_text="the run's number (null: no run yet)")
    run_status = serializers.ChoiceField(choices=RunStatus.choices, allow_null=True)
    events = EventSerializer(many=True)
    next_since = serializers.IntegerField(help_text="ask again with since=next_since for what follows")
    has_more = serializers.BooleanField(help_text="more events are there already: ask again at once")
    done = serializers.BooleanField(help_text="the run has ended and every event is read: stop tailing")


class VmSerializer(serializers.Serializer):
    name = serializers.CharField()
    role = serializers.CharField()
    role_label = serializers.CharField()
    management_ip = serializers.IPAddressField(allow_null=True)
    external_ip = serializers.IPAddressField(allow_null=True)
    moid = serializers.CharField(allow_null=True, help_text="the VM's vCenter managed object id, once cloned")
    power_state = serializers.CharField(allow_null=True, help_text="poweredOff, poweredOn; null before the clone")
    guest_ip = serializers.IPAddressField(allow_null=True, help_text="the address the guest reported")
    hostname = serializers.CharField(allow_null=True)
    status = serializers.CharField(help_text="planned, cloning, created, customizing, powering on, waiting for the guest, "
                                   "ready, failed, not created or removing")
    error = serializers.CharField(allow_blank=True)


class VmListSerializer(serializers.Serializer):
    run = serializers.IntegerField(allow_null=True)
    vms = VmSerializer(many=True)


class DeploymentBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=DeploymentStatus.choices)
    status_label = serializers.CharField()
    can_tear_down = serializers.BooleanField()


class StatusSnapshotSerializer(serializers.Serializer):
    deployment = DeploymentBriefSerializer()
    run = RunSummarySerializer(allow_null=True)
    steps = StepSerializer(many=True)
    vms = VmSerializer(many=True)
    events = EventSerializer(many=True)
    next_since = serializers.IntegerField()
    has_more = serializers.BooleanField()
    live = serializers.BooleanField(help_text="still changing: ask again (with since=next_since)")


# --- the run timeline (deployments.services.timeline) -----------------------------------------


class TimelineSegmentSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["waiting", "queued", "running"],
                                   help_text="waiting: ready, but no slot under the concurrency limits; queued: "
                                   "given a slot, waiting for a worker; running: a worker executed the attempt")
    attempt = serializers.IntegerField(allow_null=True, help_text="the attempt's number; null while waiting for a slot")
    outcome = serializers.ChoiceField(choices=AttemptOutcome.choices, allow_null=True,
                                      help_text="how the attempt ended (running: not yet); null while waiting for a slot")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField(help_text="for an ongoing segment: now")
    seconds = serializers.FloatField()
    ongoing = serializers.BooleanField(help_text="still going on: its end is now")


class TimelineStepSerializer(serializers.Serializer):
    key = serializers.CharField()
    kind = serializers.CharField()
    target = serializers.CharField(allow_blank=True, help_text="the VM it acts on; empty for a shared step")
    label = serializers.CharField(help_text='the step in words, e.g. "Clone cloud1-lb-01"')
    status = serializers.ChoiceField(choices=StepStatus.choices)
    depends_on = serializers.ListField(child=serializers.CharField())
    attempts = serializers.IntegerField(help_text="how many attempts it has had")
    row = serializers.IntegerField(help_text="the row of its lane it is drawn on (steps that overlap in time "
                                   "take different rows)")
    critical = serializers.BooleanField(help_text="on the critical path")
    start = serializers.DateTimeField(allow_null=True, help_text="its first segment's start; null before it was ready")
    end = serializers.DateTimeField(allow_null=True, help_text="its last segment's end")
    segments = TimelineSegmentSerializer(many=True)


class TimelineLaneSerializer(serializers.Serializer):
    name = serializers.CharField(help_text='the VM\'s name, or "Shared" for the steps that act on no one VM')
    vm = serializers.CharField(allow_blank=True, help_text="the VM's name; empty for the shared lane")
    rows = serializers.IntegerField(help_text="rows the lane needs")
    steps = TimelineStepSerializer(many=True)


class CriticalStepSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    seconds = serializers.FloatField(help_text="from its first segment's start to its end")


class CriticalPathSerializer(serializers.Serializer):
    steps = CriticalStepSerializer(many=True, help_text="first to last: walked back from the step that finished "
                                   "last through the dependency that finished last")
    seconds = serializers.FloatField(help_text="from the run's start to the end of the path's last step")
    waiting_seconds = serializers.FloatField(help_text="of which its steps waited for a slot")
    queued_seconds = serializers.FloatField(help_text="of which they waited for a worker")
    running_seconds = serializers.FloatField(help_text="of which they ran (every attempt)")
    other_seconds = serializers.FloatField(help_text="the rest: between one step's end and the next one's "
                                           "readiness (hand-over, or the run stopped until resumed)")


class TimelineTotalsSerializer(serializers.Serializer):
    wall_seconds = serializers.FloatField(help_text="from the run's start to its end (or now)")
    waiting_seconds = serializers.FloatField(help_text="waiting for a slot, summed over the steps")
    queued_seconds = serializers.FloatField(help_text="waiting for a worker, summed over the attempts")
    running_seconds = serializers.FloatField(help_text="running, summed over the attempts")
    lost_seconds = serializers.FloatField(help_text="spent in attempts whose worker was lost")
    attempts = serializers.IntegerField()
    lost_attempts = serializers.IntegerField()


class TimelineSerializer(serializers.Serializer):
    run = serializers.IntegerField(help_text="the run's number")
    kind = serializers.ChoiceField(choices=RunKind.choices)
    status = serializers.ChoiceField(choices=RunStatus.choices)
    live = serializers.BooleanField(help_text="the run is still going: its end is now")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    lanes = TimelineLaneSerializer(many=True, help_text="the shared steps first, then one lane per VM in plan order")
    critical_path = CriticalPathSerializer()
    totals = TimelineTotalsSerializer()
