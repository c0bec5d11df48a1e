from django.db import models


class DeploymentStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLING = "cancelling", "Stopping"
    CANCELLED = "cancelled", "Stopped"
    TEARING_DOWN = "tearing_down", "Tearing down"


ACTIVE = frozenset({DeploymentStatus.QUEUED, DeploymentStatus.RUNNING, DeploymentStatus.CANCELLING,
                    DeploymentStatus.TEARING_DOWN})
TERMINAL = frozenset({DeploymentStatus.SUCCEEDED, DeploymentStatus.FAILED, DeploymentStatus.CANCELLED})
CAN_CANCEL = frozenset({DeploymentStatus.QUEUED, DeploymentStatus.RUNNING})


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLING = "cancelling", "Stopping"
    CANCELLED = "cancelled", "Stopped"


RUN_ACTIVE = frozenset({RunStatus.PENDING, RunStatus.RUNNING, RunStatus.CANCELLING})
RUN_TERMINAL = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED})
RUN_CAN_CANCEL = frozenset({RunStatus.PENDING, RunStatus.RUNNING})


class RunKind(models.TextChoices):
    DEPLOY = "deploy", "Deploy"
    CHANGE = "change", "Change"
    REPAIR = "repair", "Repair"
    TEARDOWN = "teardown", "Tear down"


class AttemptOutcome(models.TextChoices):
    """How one attempt of a step ended: the timeline tells a lost worker from a failure."""

    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    LOST = "lost", "Worker lost"
    STALLED = "stalled", "Stalled"


class StepStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # waits for the steps it depends on
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Cancelled"


STEP_DONE = frozenset({StepStatus.SUCCEEDED, StepStatus.SKIPPED})
STEP_TERMINAL = frozenset({StepStatus.SUCCEEDED, StepStatus.SKIPPED, StepStatus.FAILED, StepStatus.CANCELLED})


class EventLevel(models.TextChoices):
    DEBUG = "debug", "Debug"
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"
