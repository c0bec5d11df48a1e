"""Read the vCenter the emulated NSX Manager is registered with, once, at start.

Uses the project's pinned-TLS pyvmomi helpers, so the emulator trusts exactly the vCenter
certificate it was given, as a real NSX Manager pins its vCenter's thumbprint.
"""

import os
from dataclasses import dataclass, field

# inventory.clients.vsphere needs no Django setup, but keep settings importable for what it may grow.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vio_manager.settings")

from pyVmomi import vim  # noqa: E402

from inventory.clients.vsphere import collect, connect, disconnect  # noqa: E402

# The clusters a VIO deployment prepares for NSX (host prep, VXLAN) and puts in its transport zone.
# Management and any other cluster (e.g. the simulator's Scale-NN) stay unprepared.
PREPARED_CLUSTER_NAMES = ("Compute-A", "Compute-B", "Edge")
EDGE_CLUSTER_NAME = "Edge"


@dataclass(frozen=True)
class VcObject:
    """A vCenter object as NSX names it: moid, name and NSX's objectTypeName."""

    moid: str
    name: str
    type_name: str


@dataclass(frozen=True)
class Cluster(VcObject):
    resource_pool: str = ""
    hosts: tuple[str, ...] = ()


@dataclass
class VcenterInventory:
    host: str
    port: int
    username: str
    fingerprint: str
    datacenter: VcObject
    clusters: list[Cluster] = field(default_factory=list)
    hosts: list[VcObject] = field(default_factory=list)
    switches: list[VcObject] = field(default_factory=list)
    portgroups: list[VcObject] = field(default_factory=list)
    networks: list[VcObject] = field(default_factory=list)
    datastores: list[VcObject] = field(default_factory=list)
    resource_pools: list[VcObject] = field(default_factory=list)
    other_datacenters: list[VcObject] = field(default_factory=list)

    @property
    def prepared_clusters(self) -> list[Cluster]:
        return [c for c in self.clusters if c.name in PREPARED_CLUSTER_NAMES]

    @property
    def edge_cluster(self) -> Cluster | None:
        return next((c for c in self.clusters if c.name == EDGE_CLUSTER_NAME), None)

    def all_objects(self) -> list[VcObject]:
        return [
            self.datacenter,
            *self.other_datacenters,
            *self.clusters,
            *self.hosts,
            *self.switches,
            *self.portgroups,
            *self.networks,
            *self.datastores,
            *self.resource_pools,
        ]


def _objects(si, obj_type, type_name: str, root) -> list[VcObject]:
    return [
        VcObject(row["_obj"]._moId, row.get("name", ""), type_name)
        for row in collect(si, obj_type, ["name"], root=root)
    ]


def read_inventory(host: str, port: int, username: str, password: str, fingerprint: str) -> VcenterInventory:
    """Everything NSX shows about vCenter, from the datacenter that holds the VIO clusters."""
    si = connect(host, port, username, password, fingerprint)
    try:
        datacenters = collect(si, vim.Datacenter, ["name"])
        if not datacenters:
            raise RuntimeError(f"vCenter {host}:{port} has no datacenter.")
        per_datacenter = []
        for row in datacenters:
            clusters = collect(si, vim.ClusterComputeResource, ["name", "resourcePool", "host"], root=row["_obj"])
            per_datacenter.append((row, clusters))
        # NSX is registered for the datacenter that holds the VIO clusters; fall back to the first.
        home, clusters = max(
            per_datacenter, key=lambda item: sum(c.get("name") in PREPARED_CLUSTER_NAMES for c in item[1])
        )
        root = home["_obj"]
        networks = collect(si, vim.Network, ["name"], root=root)
        return VcenterInventory(
            host=host,
            port=port,
            username=username,
            fingerprint=fingerprint,
            datacenter=VcObject(root._moId, home["name"], "Datacenter"),
            other_datacenters=[
                VcObject(r["_obj"]._moId, r["name"], "Datacenter") for r, _ in per_datacenter if r is not home
            ],
            clusters=[
                Cluster(
                    c["_obj"]._moId,
                    c["name"],
                    "ClusterComputeResource",
                    resource_pool=c["resourcePool"]._moId if c.get("resourcePool") else "",
                    hosts=tuple(h._moId for h in c.get("host", [])),
                )
                for c in clusters
            ],
            hosts=_objects(si, vim.HostSystem, "HostSystem", root),
            switches=_objects(si, vim.DistributedVirtualSwitch, "VmwareDistributedVirtualSwitch", root),
            portgroups=[
                VcObject(n["_obj"]._moId, n["name"], "DistributedVirtualPortgroup")
                for n in networks
                if isinstance(n["_obj"], vim.dvs.DistributedVirtualPortgroup)
            ],
            networks=[
                VcObject(n["_obj"]._moId, n["name"], "Network")
                for n in networks
                if type(n["_obj"]) is vim.Network  # standard port groups only, not DVPGs or opaque networks
            ],
            datastores=_objects(si, vim.Datastore, "Datastore", root),
            resource_pools=_objects(si, vim.ResourcePool, "ResourcePool", root),
        )
    finally:
        disconnect(si)
