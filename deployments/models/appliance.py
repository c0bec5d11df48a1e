import uuid
from pathlib import Path

from django.conf import settings
from django.db import models


def uploads_directory() -> Path:
    return Path(settings.DATA_DIR) / "appliance-uploads"


class ApplianceUpload(models.Model):
    """An appliance OVA uploaded to VIO Manager. Its id is what a spec's appliance_ova.upload names;
    the file is kept once per content (<sha256>.ova), however many times it is uploaded."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    filename = models.CharField(max_length=255, help_text="the name of the file as it was uploaded")
    size = models.PositiveBigIntegerField(help_text="bytes")
    sha256 = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the whole OVA, hex")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.sha256[:12]})"

    @property
    def path(self) -> Path:
        return uploads_directory() / f"{self.sha256}.ova"
