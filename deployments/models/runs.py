"""Runs of a deployment: each snapshots the spec it ran with, has a step per unit of work and an
append-only event log written as it happens (so logs survive a worker crash). Addresses are
allocated in the database, where a unique constraint keeps two deployments off one address."""

from django.db import models
from django.db.models import Q

from deployments.choices import RUN_ACTIVE, AttemptOutcome, EventLevel, RunKind, RunStatus, StepStatus


class IpAllocation(models.Model):
    deployment = models.ForeignKey("deployments.Deployment", on_delete=models.CASCADE, related_name="addresses")
    vcenter = models.ForeignKey("inventory.VCenter", on_delete=models.PROTECT, related_name="+")
    portgroup = models.CharField(max_length=255, help_text="the network the address lives on")
    address = models.GenericIPAddressField(protocol="IPv4")
    purpose = models.CharField(max_length=64, help_text="a VM's name, 'internal-vip' or 'public-vip'")

    class Meta:
        ordering = ["portgroup", "address"]
        constraints = [models.UniqueConstraint(fields=["vcenter", "portgroup", "address"], name="one_holder_per_address")]

    def __str__(self) -> str:
        return f"{self.address} ({self.purpose}) on {self.portgroup}"


class Run(models.Model):
    deployment = models.ForeignKey("deployments.Deployment", on_delete=models.CASCADE, related_name="runs")
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=RunKind.choices, default=RunKind.DEPLOY)
    revision = models.ForeignKey("deployments.SpecRevision", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="runs", help_text="the spec revision this run applies")
    plan = models.JSONField(default=dict, blank=True,
                            help_text="the plan it works from (VMs, names, addresses), fixed when it was created")
    change = models.JSONField(default=dict, blank=True,
                              help_text="for a change run: the VMs added and removed, the services to reconfigure")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.PENDING)
    spec = models.JSONField(help_text="the spec this run works from (without secrets)")
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="last sign of life of the worker advancing it")
    # Set when a stopped run is resumed: before any step starts, a worker checks that what the done
    # steps recorded still exists in vCenter (and makes pending again the steps whose objects are gone).
    recheck_pending = models.BooleanField(default=False)

    class Meta:
        ordering = ["deployment", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "number"], name="unique_run_number"),
            # A second launch while one is active is refused by the database itself.
            models.UniqueConstraint(fields=["deployment"], condition=Q(status__in=sorted(RUN_ACTIVE)),
                                    name="one_active_run_per_deployment"),
        ]

    def __str__(self) -> str:
        return f"{self.deployment} run {self.number}"

    @property
    def is_active(self) -> bool:
        return self.status in RUN_ACTIVE


class StepRun(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    key = models.CharField(max_length=128, help_text="unique in the run, e.g. clone:cloud1-db-02")
    kind = models.CharField(max_length=32, help_text="what the step does, e.g. clone")
    target = models.CharField(max_length=255, blank=True, help_text="what it acts on, e.g. a VM name")
    depends_on = models.JSONField(default=list, help_text="keys of the steps that must succeed first")
    weight = models.PositiveIntegerField(default=1, help_text="share of the run's progress")
    status = models.CharField(max_length=16, choices=StepStatus.choices, default=StepStatus.PENDING)
    attempt = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    output = models.JSONField(default=dict, blank=True, help_text="what it made: vCenter moids, task ids")
    # What a step in progress has set going (a vCenter task id), so the next attempt after a lost
    # worker waits for and adopts it instead of starting a second one.
    checkpoint = models.JSONField(default=dict, blank=True)
    host = models.CharField(max_length=64, blank=True, help_text="moid of the ESXi host a clone is placed on")
    worker = models.CharField(max_length=255, blank=True, help_text="the worker process executing it (host:pid)")
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="last sign of life of that worker")
    ready_at = models.DateTimeField(null=True, blank=True,
                                    help_text="when every step it depends on was done: from then on it waits for room")
    waiting_for = models.CharField(max_length=255, blank=True, help_text="what the running step waits for now")
    waiting_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "id"]
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="unique_step_key")]

    def __str__(self) -> str:
        return self.key


class StepAttempt(models.Model):
    """One attempt of a step, kept after the step moves on: where a run's time went (the timeline)."""

    step = models.ForeignKey(StepRun, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    claimed_at = models.DateTimeField(help_text="when the engine gave the step a slot")
    started_at = models.DateTimeField(null=True, blank=True, help_text="when a worker took it")
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices, default=AttemptOutcome.RUNNING)
    worker = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["step", "number"]
        constraints = [models.UniqueConstraint(fields=["step", "number"], name="unique_step_attempt")]

    def __str__(self) -> str:
        return f"{self.step} attempt {self.number}"


class RunEvent(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="events")
    sequence = models.PositiveBigIntegerField(help_text="order within the run")
    created_at = models.DateTimeField(auto_now_add=True)
    level = models.CharField(max_length=8, choices=EventLevel.choices, default=EventLevel.INFO)
    step_key = models.CharField(max_length=128, blank=True)
    message = models.TextField()

    class Meta:
        ordering = ["run", "sequence"]
        constraints = [models.UniqueConstraint(fields=["run", "sequence"], name="unique_event_sequence")]
