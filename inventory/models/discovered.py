"""What a sync found in vCenter. Every row keeps vCenter's managed-object id (moid): the OpenStack
configuration and NSX refer to objects by it. A sync brings a vCenter's rows to the new picture in
one transaction, in place: a row keeps its primary key for as long as its (vCenter, moid) exists."""

from django.db import models

from inventory.choices import NetworkKind


class Discovered(models.Model):
    vcenter = models.ForeignKey("inventory.VCenter", on_delete=models.CASCADE, related_name="+")
    moid = models.CharField(max_length=512, help_text="vCenter managed-object id")
    name = models.CharField(max_length=255)
    digest = models.CharField(max_length=40, blank=True, editable=False,
                              help_text="hash of the stored values: a sync compares it, never reading the values back")

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def unique_moid(model: str):
    return [models.UniqueConstraint(fields=["vcenter", "moid"], name=f"unique_{model}_moid")]


class Datacenter(Discovered):
    generation = models.PositiveBigIntegerField(
        default=0, help_text="raised by every write to this vCenter's picture, in the writing transaction: "
                             "a reader that cannot read in one snapshot sees whether the picture moved while it read")

    class Meta(Discovered.Meta):
        constraints = unique_moid("datacenter")


class Capacity(models.Model):
    cpu_cores = models.PositiveIntegerField(default=0)
    cpu_mhz = models.PositiveBigIntegerField(default=0, help_text="all cores")
    memory_bytes = models.PositiveBigIntegerField(default=0)
    cpu_used_mhz = models.PositiveBigIntegerField(default=0)
    memory_used_bytes = models.PositiveBigIntegerField(default=0)

    class Meta:
        abstract = True

    @property
    def cpu_free_mhz(self) -> int:
        return max(self.cpu_mhz - self.cpu_used_mhz, 0)

    @property
    def memory_free_bytes(self) -> int:
        return max(self.memory_bytes - self.memory_used_bytes, 0)

    @property
    def cpu_used_percent(self) -> float:
        return 100.0 * self.cpu_used_mhz / self.cpu_mhz if self.cpu_mhz else 0.0

    @property
    def memory_used_percent(self) -> float:
        return 100.0 * self.memory_used_bytes / self.memory_bytes if self.memory_bytes else 0.0


class Cluster(Discovered, Capacity):
    datacenter = models.ForeignKey(Datacenter, on_delete=models.CASCADE, related_name="clusters")
    host_count = models.PositiveIntegerField(default=0)
    drs_enabled = models.BooleanField(default=False)
    ha_enabled = models.BooleanField(default=False)
    resource_pool_moid = models.CharField(max_length=255, blank=True, help_text="the cluster's root pool")
    rules = models.JSONField(default=list, blank=True, help_text="DRS rules: [{key, name, type, enabled, vm_moids}]")

    class Meta(Discovered.Meta):
        constraints = unique_moid("cluster")


class Host(Discovered, Capacity):
    datacenter = models.ForeignKey(Datacenter, on_delete=models.CASCADE, related_name="hosts")
    cluster = models.ForeignKey(Cluster, null=True, blank=True, on_delete=models.CASCADE, related_name="hosts")
    connection_state = models.CharField(max_length=32, blank=True)
    power_state = models.CharField(max_length=32, blank=True)
    in_maintenance_mode = models.BooleanField(default=False)
    version = models.CharField(max_length=32, blank=True)

    class Meta(Discovered.Meta):
        constraints = unique_moid("host")

    @property
    def usable(self) -> bool:
        return self.connection_state == "connected" and self.power_state == "poweredOn" and not self.in_maintenance_mode


class Datastore(Discovered):
    datacenter = models.ForeignKey(Datacenter, on_delete=models.CASCADE, related_name="datastores")
    type = models.CharField(max_length=32, blank=True, help_text="VMFS, NFS, NFS41, vsan, VVOL")
    url = models.CharField(max_length=1024, blank=True)
    capacity_bytes = models.PositiveBigIntegerField(default=0)
    free_bytes = models.PositiveBigIntegerField(default=0)
    accessible = models.BooleanField(default=True)
    maintenance_mode = models.CharField(max_length=32, default="normal")
    host_moids = models.JSONField(default=list, help_text="hosts that mount it")
    clusters = models.ManyToManyField(Cluster, related_name="datastores", help_text="clusters whose every host mounts it")

    class Meta(Discovered.Meta):
        constraints = unique_moid("datastore")

    @property
    def shared(self) -> bool:
        return len(self.host_moids) > 1

    @property
    def used_percent(self) -> float:
        return 100.0 * (self.capacity_bytes - self.free_bytes) / self.capacity_bytes if self.capacity_bytes else 0.0


class DistributedSwitch(Discovered):
    datacenter = models.ForeignKey(Datacenter, on_delete=models.CASCADE, related_name="switches")
    uuid = models.CharField(max_length=64, blank=True)
    version = models.CharField(max_length=32, blank=True)
    mtu = models.PositiveIntegerField(null=True, blank=True)
    host_moids = models.JSONField(default=list)

    class Meta(Discovered.Meta):
        constraints = unique_moid("switch")


class Network(Discovered):
    datacenter = models.ForeignKey(Datacenter, on_delete=models.CASCADE, related_name="networks")
    kind = models.CharField(max_length=16, choices=NetworkKind.choices)
    switch = models.ForeignKey(DistributedSwitch, null=True, blank=True, on_delete=models.CASCADE, related_name="portgroups")
    vlan_id = models.PositiveIntegerField(null=True, blank=True, help_text="access VLAN (0: untagged; 4095: guest tagging)")
    vlan_trunk = models.JSONField(default=list, blank=True, help_text="trunk ranges, e.g. [[0, 4094]]")
    uplink = models.BooleanField(default=False, help_text="a switch's uplink port group")
    host_moids = models.JSONField(default=list)
    clusters = models.ManyToManyField(Cluster, related_name="networks", help_text="clusters whose every host has it")

    class Meta(Discovered.Meta):
        constraints = unique_moid("network")

    @property
    def is_full_trunk(self) -> bool:
        """Carries every VLAN: a 0-4094 trunk, or VLAN 4095 on a standard port group."""
        return self.vlan_trunk == [[0, 4094]] or self.vlan_id == 4095

    @property
    def vlan_display(self) -> str:
        if self.vlan_trunk:
            return "trunk " + ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in self.vlan_trunk)
        if self.vlan_id is None:
            return "—"
        return "untagged" if self.vlan_id == 0 else f"VLAN {self.vlan_id}"


class ResourcePool(Discovered):
    datacenter = models.ForeignKey(Datacenter, null=True, on_delete=models.CASCADE, related_name="resource_pools")
    cluster = models.ForeignKey(Cluster, null=True, blank=True, on_delete=models.CASCADE, related_name="resource_pools")
    parent_moid = models.CharField(max_length=255, blank=True)

    class Meta(Discovered.Meta):
        constraints = unique_moid("resourcepool")


class Folder(Discovered):
    datacenter = models.ForeignKey(Datacenter, null=True, on_delete=models.CASCADE, related_name="folders")
    parent_moid = models.CharField(max_length=255, blank=True)
    child_types = models.JSONField(default=list)

    class Meta(Discovered.Meta):
        constraints = unique_moid("folder")


class VmTemplate(Discovered):
    class Meta(Discovered.Meta):
        constraints = unique_moid("vmtemplate")


class VirtualMachine(Discovered):
    """Every VM (templates too), with what health reads. Places are kept as moids: an update of one
    VM never needs another row, and a VM whose host or pool vanished keeps its last known place."""

    datacenter = models.ForeignKey(Datacenter, null=True, blank=True, on_delete=models.CASCADE, related_name="vms")
    host_moid = models.CharField(max_length=255, blank=True)
    cluster_moid = models.CharField(max_length=255, blank=True, help_text="the cluster of its host")
    resource_pool_moid = models.CharField(max_length=255, blank=True)
    folder_moid = models.CharField(max_length=255, blank=True)
    power_state = models.CharField(max_length=32, blank=True)
    connection_state = models.CharField(max_length=32, blank=True)
    tools_running_status = models.CharField(max_length=32, blank=True)
    ip_address = models.CharField(max_length=64, blank=True, help_text="the guest's primary address")
    ip_addresses = models.JSONField(default=list, blank=True, help_text="every address of guest.net")
    deployment_id = models.CharField(max_length=64, blank=True, help_text="extraConfig vio-manager.deployment")
    role = models.CharField(max_length=64, blank=True, help_text="extraConfig vio-manager.role")
    custom_values = models.JSONField(default=dict, blank=True, help_text="custom attributes: {field name: value}")
    template = models.BooleanField(default=False)
    cpu_count = models.PositiveIntegerField(default=0)
    memory_mb = models.PositiveBigIntegerField(default=0)

    class Meta(Discovered.Meta):
        constraints = unique_moid("virtualmachine")
        indexes = [
            models.Index(fields=["vcenter", "name"], name="vm_vcenter_name"),
            models.Index(fields=["vcenter", "power_state"], name="vm_vcenter_power"),
            models.Index(fields=["vcenter", "host_moid"], name="vm_vcenter_host"),
            models.Index(fields=["vcenter", "cluster_moid"], name="vm_vcenter_cluster"),
            models.Index(fields=["vcenter", "deployment_id"], name="vm_vcenter_deployment"),
        ]
