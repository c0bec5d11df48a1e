from django.db import models


class NsxObject(models.Model):
    manager = models.ForeignKey("inventory.NsxManager", on_delete=models.CASCADE, related_name="+")
    object_id = models.CharField(max_length=64)
    name = models.CharField(max_length=255, blank=True)

    class Meta:
        abstract = True
        ordering = ["object_id"]

    def __str__(self) -> str:
        return self.name or self.object_id


class NsxTransportZone(NsxObject):
    control_plane_mode = models.CharField(max_length=32, blank=True)
    cluster_moids = models.JSONField(default=list)

    class Meta(NsxObject.Meta):
        constraints = [models.UniqueConstraint(fields=["manager", "object_id"], name="unique_nsx_scope")]


class NsxEdge(NsxObject):
    edge_type = models.CharField(max_length=32, blank=True, help_text="gatewayServices or distributedRouter")
    state = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=32, blank=True)
    datacenter_moid = models.CharField(max_length=64, blank=True)
    appliance_version = models.CharField(max_length=32, blank=True)

    class Meta(NsxObject.Meta):
        constraints = [models.UniqueConstraint(fields=["manager", "object_id"], name="unique_nsx_edge")]


class NsxController(NsxObject):
    ip_address = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=32, blank=True)

    class Meta(NsxObject.Meta):
        constraints = [models.UniqueConstraint(fields=["manager", "object_id"], name="unique_nsx_controller")]
