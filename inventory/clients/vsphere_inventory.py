"""Read a vCenter's whole inventory in one filter: one ContainerView over every managed entity, one
PropertySpec per type with only the properties the product uses, one RetrievePropertiesEx (plus
continuation pages on a real vCenter). Returns plain data keyed by managed-object id (moid), which
the OpenStack configuration needs verbatim."""

from dataclasses import dataclass, field

from pyVmomi import vim, vmodl

from inventory.clients.fastcollect import container_filter, retrieve_properties

PC = vmodl.query.PropertyCollector

# type -> properties read. Nested paths keep the payload small (no whole config objects) where
# the declared type is concrete; polymorphic ones (configurationEx, DVS config) are read whole.
PROPERTIES = {
    vim.Datacenter: ["name", "parent"],
    vim.Folder: ["name", "parent", "childType"],
    vim.ClusterComputeResource: ["name", "parent", "summary", "configurationEx", "resourcePool"],
    vim.ComputeResource: ["name", "parent"],
    vim.HostSystem: [
        "name", "parent", "runtime.connectionState", "runtime.powerState", "runtime.inMaintenanceMode",
        "summary.hardware.numCpuCores", "summary.hardware.cpuMhz", "summary.hardware.memorySize",
        "summary.quickStats.overallCpuUsage", "summary.quickStats.overallMemoryUsage",
        "summary.config.product.version", "config.network.portgroup", "datastore",
    ],
    # Which hosts mount a datastore comes from host.datastore: a list of ids, a quarter of the
    # bytes of Datastore.host's mount records (and the simulator keeps only one of those).
    vim.Datastore: ["name", "parent", "summary"],
    # Not Network.host: tens of thousands of references at scale. A distributed port group is on
    # every member host of its switch; a standard one on the hosts whose vSwitch lists its name.
    vim.Network: ["name", "parent"],
    vim.dvs.DistributedVirtualPortgroup: ["config.defaultPortConfig", "config.distributedVirtualSwitch"],
    vim.DistributedVirtualSwitch: ["name", "parent", "uuid", "config", "summary.productInfo.version", "summary.hostMember"],
    vim.ResourcePool: ["name", "parent", "owner"],
    # Thousands of VMs: only the flag; the few templates' names come in a second, small call.
    vim.VirtualMachine: ["config.template"],
}


@dataclass
class Snapshot:
    """What one read of vCenter found; every dict is keyed by moid."""

    datacenters: dict = field(default_factory=dict)
    folders: dict = field(default_factory=dict)
    clusters: dict = field(default_factory=dict)
    hosts: dict = field(default_factory=dict)
    datastores: dict = field(default_factory=dict)
    networks: dict = field(default_factory=dict)
    switches: dict = field(default_factory=dict)
    resource_pools: dict = field(default_factory=dict)
    templates: dict = field(default_factory=dict)
    round_trips: int = 0


def _int(value) -> int:
    return int(value) if value not in (None, "") else 0


def _true(value) -> bool:
    return value is True or value == "true"


def _vlan(port_config) -> tuple[int | None, list]:
    vlan = port_config.vlan if port_config is not None else None
    if vlan is None:
        return None, []
    if vlan.xsi_type == "VmwareDistributedVirtualSwitchTrunkVlanSpec":
        return None, [[_int(r.start), _int(r.end)] for r in vlan.all("vlanId")]
    if vlan.xsi_type == "VmwareDistributedVirtualSwitchVlanIdSpec":
        return _int(vlan.vlanId), []
    return None, []


def read_objects(si, content) -> tuple[dict, int]:
    """{type name: [(moid, {property: value})]} for the whole inventory, and the round trips."""
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.ManagedEntity], True)
    try:
        rows, pages = retrieve_properties(si, [container_filter(view, PROPERTIES)], collector=content.propertyCollector)
    finally:
        try:
            view.DestroyView()
        except (vim.fault.NotAuthenticated, vmodl.fault.ManagedObjectNotFound):
            pass  # the view ended with its session
    by_type: dict[str, list] = {}
    for kind, moid, props in rows:
        by_type.setdefault(kind, []).append((moid, props))
    return by_type, 2 + pages  # CreateContainerView, pages, DestroyView


def read_inventory(si) -> Snapshot:
    content = si.RetrieveContent()
    try:
        by_type, round_trips = read_objects(si, content)
    except vim.fault.NotAuthenticated:
        # The session expired between calls; the stub logs in again on the next call.
        by_type, round_trips = read_objects(si, content)
        round_trips += 3
    snapshot = Snapshot(round_trips=1 + round_trips)
    parents = {moid: props.get("parent") for rows in by_type.values() for moid, props in rows}

    def datacenter_of(moid: str | None) -> str | None:
        for _ in range(64):  # bounded: folders nest, but never this deep
            if moid is None or moid in snapshot.datacenters:
                return moid
            moid = parents.get(moid)
        return None

    for moid, p in by_type.get("Datacenter", []):
        snapshot.datacenters[moid] = {"name": p["name"]}
    for moid, p in by_type.get("Folder", []):
        snapshot.folders[moid] = {"name": p["name"], "parent": parents[moid], "child_types": p.get("childType", [])}

    standard_vlans: dict[str, int] = {}
    standard_hosts: dict[str, list] = {}
    for moid, p in by_type.get("HostSystem", []):
        cores = _int(p.get("summary.hardware.numCpuCores"))
        for portgroup in p.get("config.network.portgroup") or []:
            standard_vlans.setdefault(portgroup.spec.name, _int(portgroup.spec.vlanId))
            standard_hosts.setdefault(portgroup.spec.name, []).append(moid)
        snapshot.hosts[moid] = {
            "name": p["name"],
            "cluster": parents[moid],  # a cluster, or a standalone host's ComputeResource
            "datacenter": datacenter_of(moid),
            "connection_state": p.get("runtime.connectionState", ""),
            "power_state": p.get("runtime.powerState", ""),
            "in_maintenance_mode": _true(p.get("runtime.inMaintenanceMode")),
            "cpu_cores": cores,
            "cpu_mhz": cores * _int(p.get("summary.hardware.cpuMhz")),
            "memory_bytes": _int(p.get("summary.hardware.memorySize")),
            "cpu_used_mhz": _int(p.get("summary.quickStats.overallCpuUsage")),
            "memory_used_bytes": _int(p.get("summary.quickStats.overallMemoryUsage")) * 2**20,
            "version": p.get("summary.config.product.version", ""),
        }

    members: dict[str, list] = {}
    for host_moid, host in snapshot.hosts.items():
        members.setdefault(host["cluster"], []).append(host)
    for moid, p in by_type.get("ClusterComputeResource", []):
        summary, config = p.get("summary"), p.get("configurationEx")
        hosts = members.get(moid, [])
        snapshot.clusters[moid] = {
            "name": p["name"],
            "datacenter": datacenter_of(moid),
            "host_count": len(hosts),
            "cpu_cores": _int(summary.numCpuCores) if summary else 0,
            "cpu_mhz": _int(summary.totalCpu) if summary else 0,
            "memory_bytes": _int(summary.totalMemory) if summary else 0,
            "cpu_used_mhz": sum(h["cpu_used_mhz"] for h in hosts),
            "memory_used_bytes": sum(h["memory_used_bytes"] for h in hosts),
            "drs_enabled": bool(config and config.drsConfig and _true(config.drsConfig.enabled)),
            "ha_enabled": bool(config and config.dasConfig and _true(config.dasConfig.enabled)),
            "resource_pool": p.get("resourcePool"),
        }

    mounts: dict[str, list] = {}
    for moid, p in by_type.get("HostSystem", []):
        for datastore in p.get("datastore") or []:
            mounts.setdefault(datastore, []).append(moid)
    for moid, p in by_type.get("Datastore", []):
        summary = p["summary"]
        snapshot.datastores[moid] = {
            "name": p["name"],
            "datacenter": datacenter_of(moid),
            "type": summary.type or "",
            "url": summary.url or "",
            "capacity_bytes": _int(summary.capacity),
            "free_bytes": _int(summary.freeSpace),
            "accessible": _true(summary.accessible),
            "maintenance_mode": summary.maintenanceMode or "normal",
            "hosts": mounts.get(moid, []),
        }

    uplinks: set[str] = set()
    for kind in ("DistributedVirtualSwitch", "VmwareDistributedVirtualSwitch"):
        for moid, p in by_type.get(kind, []):
            config = p.get("config")
            uplinks.update(config.all("uplinkPortgroup") if config else [])
            snapshot.switches[moid] = {
                "name": p["name"],
                "datacenter": datacenter_of(moid),
                "uuid": p.get("uuid", ""),
                "version": p.get("summary.productInfo.version", ""),
                "mtu": (_int(config.maxMtu) or None) if config else None,
                "hosts": p.get("summary.hostMember") or [],
            }

    for kind in ("Network", "DistributedVirtualPortgroup", "OpaqueNetwork"):
        for moid, p in by_type.get(kind, []):
            distributed = kind == "DistributedVirtualPortgroup"
            vlan_id, trunk = _vlan(p.get("config.defaultPortConfig")) if distributed else (standard_vlans.get(p["name"]), [])
            switch = p.get("config.distributedVirtualSwitch")
            datacenter = datacenter_of(moid)
            if distributed:
                hosts = snapshot.switches[switch]["hosts"] if switch in snapshot.switches else []
            else:
                hosts = [h for h in standard_hosts.get(p["name"], []) if snapshot.hosts[h]["datacenter"] == datacenter]
            snapshot.networks[moid] = {
                "name": p["name"],
                "datacenter": datacenter,
                "kind": {"DistributedVirtualPortgroup": "distributed", "OpaqueNetwork": "opaque"}.get(kind, "standard"),
                "switch": switch,
                "vlan_id": vlan_id,
                "vlan_trunk": trunk,
                "uplink": moid in uplinks,
                "hosts": hosts,
            }

    for moid, p in by_type.get("ResourcePool", []):
        snapshot.resource_pools[moid] = {"name": p["name"], "parent": parents[moid], "owner": p.get("owner"),
                                         "datacenter": datacenter_of(moid)}
    template_ids = [moid for moid, p in by_type.get("VirtualMachine", []) if _true(p.get("config.template"))]
    if template_ids:
        for moid, props in read_template_names(si, content, template_ids):
            snapshot.templates[moid] = {"name": props.get("name", moid)}
        snapshot.round_trips += 1
    return snapshot


def read_template_names(si, content, moids: list[str]) -> list:
    stub = si._stub
    spec = PC.FilterSpec(
        objectSet=[PC.ObjectSpec(obj=vim.VirtualMachine(moid, stub), skip=False) for moid in moids],
        propSet=[PC.PropertySpec(type=vim.VirtualMachine, pathSet=["name"], all=False)],
    )
    rows, _ = retrieve_properties(si, [spec], collector=content.propertyCollector)
    return [(moid, props) for _, moid, props in rows]
