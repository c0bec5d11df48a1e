from django.conf import settings
from django.db import models

from deployments.choices import ACTIVE, DeploymentStatus
from vio_manager.crypto import EncryptedTextField


class Deployment(models.Model):
    """One OpenStack cloud. Its spec is stored without secrets; those are encrypted apart."""

    name = models.CharField(max_length=32, unique=True)
    vcenter = models.ForeignKey("inventory.VCenter", on_delete=models.PROTECT, related_name="deployments")
    spec = models.JSONField(help_text="the DeploymentSpec, secrets removed")
    secrets = EncryptedTextField(help_text="JSON {path: value} of the spec's secret fields")
    status = models.CharField(max_length=16, choices=DeploymentStatus.choices, default=DeploymentStatus.QUEUED)
    acknowledged = models.JSONField(default=list, blank=True, help_text="advisory warnings the administrator accepted")
    current_revision = models.PositiveIntegerField(null=True, blank=True,
                                                   help_text="the revision its cloud runs now (none until a run succeeds)")
    health = models.CharField(max_length=16, blank=True, help_text="its health when last judged (services.health)")
    health_changed_at = models.DateTimeField(null=True, blank=True)
    openstack_view = models.JSONField(default=dict, blank=True,
                                      help_text="OpenStack's own view when last asked (services.cloud_view)")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def latest_run(self):
        return self.runs.order_by("-number").first()


class DeploymentTemplate(models.Model):
    """A saved spec without secrets, to deploy again (VIO's deployment template file)."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    schema_version = models.PositiveIntegerField()
    spec = models.JSONField(help_text="the spec without secrets, at the current schema version")
    source_deployment = models.ForeignKey(Deployment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WizardSecret(models.Model):
    """A password typed into the wizard, encrypted at once: the session keeps only this row's id."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    value = EncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True)
