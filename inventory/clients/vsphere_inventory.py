"""Read a vCenter's whole inventory in one filter: one ContainerView over every managed entity, one
PropertySpec per type with only the properties the product uses, one RetrievePropertiesEx (plus
continuation pages on a real vCenter). Returns plain data keyed by managed-object id (moid), which
the OpenStack configuration needs verbatim.

build_snapshot() turns objects' raw properties into that data; the full sync and the watcher
(vsphere_watch, which receives the same properties from WaitForUpdatesEx) both use it, so an
incremental update and a full sync store the same rows for the same vCenter state. A VM's raw
properties are made compact (plain values, only our extraConfig keys) the moment they are read:
tens of thousands of them are kept by the watcher."""

from dataclasses import dataclass, field

from pyVmomi import vim, vmodl

from inventory.clients.fastcollect import Node, container_filter, retrieve_properties
from inventory.clients.vsphere_build import DEPLOYMENT_KEY, ROLE_KEY

PC = vmodl.query.PropertyCollector

# type -> properties read. Nested paths keep the payload small (no whole config objects) where
# the declared type is concrete; polymorphic ones (configurationEx, DVS config) are read whole.
PROPERTIES = {
    vim.Datacenter: ["name", "parent"],
    vim.Folder: ["name", "parent", "childType"],
    # configurationEx carries the DRS rules too.
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
    # Tens of thousands of VMs: what health reads, nested paths only (no whole config or guest).
    vim.VirtualMachine: [
        "name", "parent", "resourcePool", "runtime.host", "runtime.powerState", "runtime.connectionState",
        "guest.toolsRunningStatus", "guest.ipAddress", "guest.net", "config.extraConfig", "customValue",
        "config.template", "config.hardware.numCPU", "config.hardware.memoryMB",
    ],
}
# The custom attributes' names (a VM's customValue names its fields by key).
FIELD_PROPERTIES = {vim.CustomFieldsManager: ["field"]}


def _guest_addresses(nics) -> list:
    addresses = []
    for nic in nics or []:
        for address in nic.all("ipAddress") if isinstance(nic, Node) else []:
            if address and address not in addresses:
                addresses.append(address)
    return addresses


def _our_tags(options) -> dict:
    wanted = (DEPLOYMENT_KEY, ROLE_KEY)
    return {o.key: o.value or "" for o in options or [] if isinstance(o, Node) and o.key in wanted}


def _custom_values(values) -> list:
    return [[int(v.key), v.value or ""] for v in values or [] if isinstance(v, Node) and v.key is not None]


# A VM's raw values made plain as they arrive (the watcher keeps tens of thousands of them).
VM_VALUES = {"guest.net": _guest_addresses, "config.extraConfig": _our_tags, "customValue": _custom_values}


def compact_vm_value(path: str, value):
    convert = VM_VALUES.get(path)
    if convert is not None:
        return convert(value)
    return None if isinstance(value, Node) else value


def compact_vm(props: dict) -> dict:
    return {path: compact_vm_value(path, value) for path, value in props.items()}


def field_names(field_defs) -> dict[int, str]:
    return {int(f.key): f.name for f in field_defs or [] if isinstance(f, Node) and f.key is not None}


RULE_TYPES = {"ClusterAntiAffinityRuleSpec": "anti-affinity", "ClusterAffinityRuleSpec": "affinity",
              "ClusterVmHostRuleInfo": "vm-host", "ClusterDependencyRuleInfo": "dependency"}


def _rules(config) -> list:
    rules = []
    for rule in config.all("rule") if isinstance(config, Node) else []:
        rules.append({"key": _int(rule.key), "name": rule.name or "", "type": RULE_TYPES.get(rule.xsi_type, rule.xsi_type or ""),
                      "enabled": _true(rule.enabled), "vm_moids": rule.all("vm")})
    return sorted(rules, key=lambda r: (r["name"], r["key"]))


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
    vms: dict = field(default_factory=dict)
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


def read_objects(si, content) -> tuple[dict, int, dict]:
    """({type name: [(moid, {property: value})]} for the whole inventory, the round trips, and the
    custom attributes' names by key). VMs arrive compact."""
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.ManagedEntity], True)
    by_type: dict[str, list] = {}
    fields: dict[int, str] = {}

    def on_object(kind, moid, props):
        if kind == "VirtualMachine":
            props = compact_vm(props)
        elif kind == "CustomFieldsManager":
            fields.update(field_names(props.get("field")))
            return
        by_type.setdefault(kind, []).append((moid, props))

    spec = container_filter(view, PROPERTIES)
    if content.customFieldsManager is not None:
        spec.objectSet.append(PC.ObjectSpec(obj=content.customFieldsManager, skip=False))
        spec.propSet.extend(PC.PropertySpec(type=kind, pathSet=paths, all=False) for kind, paths in FIELD_PROPERTIES.items())
    try:
        _, pages = retrieve_properties(si, [spec], collector=content.propertyCollector, on_object=on_object)
    finally:
        try:
            view.DestroyView()
        except (vim.fault.NotAuthenticated, vmodl.fault.ManagedObjectNotFound):
            pass  # the view ended with its session
    return by_type, 2 + pages, fields  # CreateContainerView, pages, DestroyView


def read_inventory(si) -> Snapshot:
    content = si.RetrieveContent()
    try:
        by_type, round_trips, fields = read_objects(si, content)
    except vim.fault.NotAuthenticated:
        # The session expired between calls; the stub logs in again on the next call.
        by_type, round_trips, fields = read_objects(si, content)
        round_trips += 3
    snapshot = build_snapshot(by_type, fields)
    snapshot.round_trips = 1 + round_trips
    return snapshot


def build_snapshot(by_type: dict, fields: dict[int, str]) -> Snapshot:
    """The stored picture's data from raw properties by type (VMs compact)."""
    snapshot = Snapshot()
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
            "rules": _rules(config),
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
    host_clusters = {moid: h["cluster"] for moid, h in snapshot.hosts.items() if h["cluster"] in snapshot.clusters}
    for moid, p in by_type.get("VirtualMachine", []):
        snapshot.vms[moid] = vm_row(moid, p, host_clusters, datacenter_of(moid), fields)
        if snapshot.vms[moid]["template"]:
            snapshot.templates[moid] = {"name": snapshot.vms[moid]["name"]}
    return snapshot


def vm_row(moid: str, p: dict, host_clusters: dict, datacenter: str | None, fields: dict[int, str]) -> dict:
    """A VM's stored values from its compact properties."""
    host = p.get("runtime.host") or ""
    primary = p.get("guest.ipAddress") or ""
    addresses = list(p.get("guest.net") or [])
    if primary and primary not in addresses:
        addresses.insert(0, primary)
    tags = p.get("config.extraConfig") or {}
    return {
        "name": p.get("name") or moid,
        "datacenter": datacenter,
        "host": host,
        "cluster": host_clusters.get(host, ""),
        "resource_pool": p.get("resourcePool") or "",
        "folder": p.get("parent") or "",
        "power_state": p.get("runtime.powerState") or "",
        "connection_state": p.get("runtime.connectionState") or "",
        "tools_running_status": p.get("guest.toolsRunningStatus") or "",
        "ip_address": primary,
        "ip_addresses": addresses,
        "deployment_id": tags.get(DEPLOYMENT_KEY, ""),
        "role": tags.get(ROLE_KEY, ""),
        "custom_values": {fields.get(key, str(key)): value for key, value in p.get("customValue") or []},
        "template": _true(p.get("config.template")),
        "cpu_count": _int(p.get("config.hardware.numCPU")),
        "memory_mb": _int(p.get("config.hardware.memoryMB")),
    }
