"""Read the vCenter the emulated NSX Manager is registered with, and read it again when it is stale.

A real NSX Manager follows its vCenter's inventory (clusters, hosts and switches added or removed
show up in NSX); the emulator re-reads it on demand: a request that needs the inventory gets the
last reading if it is younger than `max_age` seconds, else a new one. Each reading is one round
trip per datacenter (one ContainerView over the datacenter, every type at once).

Objects are recognised by their pyvmomi type, never by the shape of their moid (the 0.24.2
simulator's `clustercomputeresource-N` as well as vCenter's `domain-cN`, `dvs-N`, `datastore-N`…)
nor by the exact switch type: vim.DistributedVirtualSwitch and its subtype
vim.dvs.VmwareDistributedVirtualSwitch (vCenter's) are both a switch.

Uses the project's pinned-TLS pyvmomi helpers, so the emulator trusts exactly the vCenter
certificate it was given, as a real NSX Manager pins its vCenter's thumbprint.
"""

import os
import sys
import threading
import time
from dataclasses import dataclass, field

# inventory.clients.vsphere needs no Django setup, but keep settings importable for what it may grow.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vio_manager.settings")

from pyVmomi import vim, vmodl  # noqa: E402

from inventory.clients.vsphere import collect, connect, disconnect  # noqa: E402

# The clusters a VIO deployment prepares for NSX (host prep, VXLAN) and puts in its transport zone.
# Management and any other cluster (e.g. the simulator's Scale-NN) stay unprepared.
PREPARED_CLUSTER_NAMES = ("Compute-A", "Compute-B", "Edge")
EDGE_CLUSTER_NAME = "Edge"
# NSX's objectTypeName for a switch: NSX-v works with vSphere Distributed Switches only, and names
# them so whatever class the vCenter reports (RAML example of GET /2.0/vdn/switches).
SWITCH_TYPE_NAME = "VmwareDistributedVirtualSwitch"
CONNECT_TIMEOUT = 10.0  # a re-read holds up the request that triggered it: fail fast, serve the last one

# What one reading asks vCenter for. Subtypes are listed beside their base types because a
# ContainerView and a PropertySpec select by type name: vCenter includes subtypes, a simulator may not.
VIEW_TYPES = [
    vim.ClusterComputeResource,
    vim.HostSystem,
    vim.DistributedVirtualSwitch,
    vim.dvs.VmwareDistributedVirtualSwitch,
    vim.Network,
    vim.dvs.DistributedVirtualPortgroup,
    vim.Datastore,
    vim.ResourcePool,
]
CLUSTER_PROPERTIES = ["name", "resourcePool", "host"]


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


def _read_datacenter(si, datacenter) -> list[tuple[object, dict]]:
    """[(managed object, {property: value})] of every object NSX shows, under one datacenter."""
    pc = vmodl.query.PropertyCollector
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(datacenter, VIEW_TYPES, True)
    try:
        prop_set = [
            pc.PropertySpec(type=kind, pathSet=CLUSTER_PROPERTIES if kind is vim.ClusterComputeResource else ["name"])
            for kind in VIEW_TYPES
        ]
        traversal = pc.TraversalSpec(name="view", path="view", skip=False, type=vim.view.ContainerView)
        spec = pc.FilterSpec(objectSet=[pc.ObjectSpec(obj=view, skip=True, selectSet=[traversal])], propSet=prop_set)
        collector = content.propertyCollector
        result = collector.RetrievePropertiesEx([spec], pc.RetrieveOptions(maxObjects=1000))
        found: dict[str, tuple[object, dict]] = {}
        while result:
            for o in result.objects:
                # An object listed under both its type and a base type comes once, its properties merged.
                _, props = found.setdefault(o.obj._moId, (o.obj, {}))
                props.update({p.name: p.val for p in o.propSet})
            result = collector.ContinueRetrievePropertiesEx(result.token) if result.token else None
        return list(found.values())
    finally:
        try:
            view.DestroyView()
        except vmodl.fault.ManagedObjectNotFound:
            pass  # gone with an expired session


def _classify(rows: list[tuple[object, dict]]) -> dict[str, list]:
    """Sort objects by pyvmomi type (isinstance, so subtypes count as their base type)."""
    names = ("clusters", "hosts", "switches", "portgroups", "networks", "datastores", "pools")
    kinds: dict[str, list] = {name: [] for name in names}
    for obj, props in rows:
        name = props.get("name", "")
        if isinstance(obj, vim.ClusterComputeResource):
            pool = props.get("resourcePool")
            kinds["clusters"].append(
                Cluster(
                    obj._moId,
                    name,
                    "ClusterComputeResource",
                    resource_pool=pool._moId if pool is not None else "",
                    hosts=tuple(h._moId for h in props.get("host") or ()),
                )
            )
        elif isinstance(obj, vim.HostSystem):
            kinds["hosts"].append(VcObject(obj._moId, name, "HostSystem"))
        elif isinstance(obj, vim.DistributedVirtualSwitch):
            kinds["switches"].append(VcObject(obj._moId, name, SWITCH_TYPE_NAME))
        elif isinstance(obj, vim.dvs.DistributedVirtualPortgroup):
            kinds["portgroups"].append(VcObject(obj._moId, name, "DistributedVirtualPortgroup"))
        elif type(obj) is vim.Network:  # standard port groups only, not DVPGs or opaque networks
            kinds["networks"].append(VcObject(obj._moId, name, "Network"))
        elif isinstance(obj, vim.Datastore):
            kinds["datastores"].append(VcObject(obj._moId, name, "Datastore"))
        elif isinstance(obj, vim.ResourcePool):
            kinds["pools"].append(VcObject(obj._moId, name, "ResourcePool"))
    return kinds


def read_inventory(si, host: str, port: int, username: str, fingerprint: str) -> VcenterInventory:
    """Everything NSX shows about vCenter, from the datacenter that holds the VIO clusters."""
    datacenters = collect(si, vim.Datacenter, ["name"])
    if not datacenters:
        raise RuntimeError(f"vCenter {host}:{port} has no datacenter.")
    per_datacenter = [(row, _classify(_read_datacenter(si, row["_obj"]))) for row in datacenters]
    # NSX is registered for the datacenter that holds the VIO clusters; fall back to the first.
    home, kinds = max(
        per_datacenter, key=lambda item: sum(c.name in PREPARED_CLUSTER_NAMES for c in item[1]["clusters"])
    )
    return VcenterInventory(
        host=host,
        port=port,
        username=username,
        fingerprint=fingerprint,
        datacenter=VcObject(home["_obj"]._moId, home.get("name", ""), "Datacenter"),
        other_datacenters=[
            VcObject(r["_obj"]._moId, r.get("name", ""), "Datacenter") for r, _ in per_datacenter if r is not home
        ],
        clusters=kinds["clusters"],
        hosts=kinds["hosts"],
        switches=kinds["switches"],
        portgroups=kinds["portgroups"],
        networks=kinds["networks"],
        datastores=kinds["datastores"],
        resource_pools=kinds["pools"],
    )


class VcenterSource:
    """The vCenter inventory as NSX currently sees it: re-read when older than max_age seconds.

    The session is kept between readings (it logs in again by itself when it expires) and opened
    anew after a failure. When vCenter cannot be read, the last reading stays in use and
    `connected` turns False, as NSX's vCenter connection status does.
    """

    def __init__(self, host: str, port: int, username: str, password: str, fingerprint: str, max_age: float = 2.0):
        self.host, self.port, self.username, self.fingerprint = host, port, username, fingerprint
        self._password = password
        self.max_age = max_age
        self._lock = threading.Lock()
        self._si = None
        self._inventory: VcenterInventory | None = None
        self._read_at = 0.0  # monotonic time of the last attempt
        self.synced_ms = 0  # wall-clock time of the last successful reading (lastInventorySyncTime)
        self.connected = False
        self.readings = 0

    def _read(self) -> VcenterInventory:
        if self._si is None:
            self._si = connect(
                self.host, self.port, self.username, self._password, self.fingerprint, timeout=CONNECT_TIMEOUT
            )
        try:
            return read_inventory(self._si, self.host, self.port, self.username, self.fingerprint)
        except Exception:
            self._drop_session()
            raise

    def _drop_session(self) -> None:
        si, self._si = self._si, None
        if si is not None:
            disconnect(si)

    def start(self) -> VcenterInventory:
        """The first reading: its failure ends the emulator's start."""
        with self._lock:
            self._store(self._read())
            return self._inventory

    def _store(self, inventory: VcenterInventory) -> None:
        self._inventory = inventory
        self._read_at = time.monotonic()
        self.synced_ms = int(time.time() * 1000)
        self.connected = True
        self.readings += 1

    def current(self) -> VcenterInventory:
        with self._lock:
            if self._inventory is None or time.monotonic() - self._read_at >= self.max_age:
                try:
                    self._store(self._read())
                except Exception as exc:  # any failure: keep serving the last reading
                    if self._inventory is None:
                        raise
                    self._read_at = time.monotonic()  # wait max_age before the next attempt
                    self.connected = False
                    sys.stderr.write(f"nsxv: re-reading vCenter {self.host}:{self.port} failed: {exc}\n")
            return self._inventory

    def close(self) -> None:
        with self._lock:
            self._drop_session()
