"""Every spec a deployment was given, numbered: revision 1 is the one it was created with, each change
adds one. A revision becomes current when the run applying it succeeds."""

from django.conf import settings
from django.db import models

from vio_manager.crypto import EncryptedTextField


class SpecRevision(models.Model):
    deployment = models.ForeignKey("deployments.Deployment", on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    spec = models.JSONField(help_text="the DeploymentSpec of this revision, secrets removed")
    secrets = EncryptedTextField(help_text="JSON {path: value} of the spec's secret fields in this revision")
    note = models.CharField(max_length=500, blank=True, help_text="why it was made, in the words of who made it")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True, help_text="when the run applying it succeeded")

    class Meta:
        ordering = ["deployment", "number"]
        constraints = [models.UniqueConstraint(fields=["deployment", "number"], name="unique_revision_number")]

    def __str__(self) -> str:
        return f"{self.deployment} revision {self.number}"
