from django.db import models


class DeploymentStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLING = "cancelling", "Cancelling"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE = frozenset({DeploymentStatus.QUEUED, DeploymentStatus.RUNNING, DeploymentStatus.CANCELLING})
TERMINAL = frozenset({DeploymentStatus.SUCCEEDED, DeploymentStatus.FAILED, DeploymentStatus.CANCELLED})
CAN_CANCEL = frozenset({DeploymentStatus.QUEUED, DeploymentStatus.RUNNING})
