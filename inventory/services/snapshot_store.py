"""Store what a sync read. A vCenter's stored picture is brought to the new one in place, in one
transaction: every row keeps its primary key on its (vCenter, moid) key, new objects are inserted,
changed ones updated, vanished ones deleted, and the "usable from cluster" pairs change only where
they differ. Readers see the old picture or the new one (InventoryContext reads one snapshot), and
ids stay valid across syncs. An NSX Manager's picture is still replaced."""

import hashlib
import json
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F

from inventory import models as m

# Fields written per model (attnames: foreign keys as their ids); a row is rewritten only when one differs.
CAPACITY = ("cpu_cores", "cpu_mhz", "memory_bytes", "cpu_used_mhz", "memory_used_bytes")
FIELDS = {
    m.Datacenter: ("name",),
    m.Cluster: ("name", "datacenter_id", "host_count", *CAPACITY, "drs_enabled", "ha_enabled", "resource_pool_moid", "rules"),
    m.Host: ("name", "datacenter_id", "cluster_id", "connection_state", "power_state", "in_maintenance_mode", *CAPACITY, "version"),
    m.DistributedSwitch: ("name", "datacenter_id", "uuid", "version", "mtu", "host_moids"),
    m.Datastore: ("name", "datacenter_id", "type", "url", "capacity_bytes", "free_bytes", "accessible", "maintenance_mode", "host_moids"),
    m.Network: ("name", "datacenter_id", "kind", "switch_id", "vlan_id", "vlan_trunk", "uplink", "host_moids"),
    m.ResourcePool: ("name", "datacenter_id", "cluster_id", "parent_moid"),
    m.Folder: ("name", "datacenter_id", "parent_moid", "child_types"),
    m.VmTemplate: ("name",),
    m.VirtualMachine: ("name", "datacenter_id", "host_moid", "cluster_moid", "resource_pool_moid", "folder_moid",
                       "power_state", "connection_state", "tools_running_status", "ip_address", "ip_addresses",
                       "deployment_id", "role", "custom_values", "template", "cpu_count", "memory_mb"),
}
BATCH = 1000


def _covering_clusters(host_moids, clusters_by_dc: dict, datacenter_moid: str) -> list:
    """Clusters (of the object's datacenter) whose every host is in host_moids."""
    hosts = set(host_moids)
    return [cluster for cluster, members in clusters_by_dc.get(datacenter_moid, []) if members and members <= hosts]


class _Picture:
    """The stored rows of one vCenter, brought to a new sync's rows model by model. Deletions wait
    until every model is written: a row that moved away from a vanished parent must not go with it."""

    def __init__(self, vcenter):
        self.vcenter = vcenter
        self.vanished: list[tuple] = []  # (model, [pk]) in the order written: parents first

    def put(self, model, rows: dict[str, dict]) -> dict[str, int]:
        """rows: {moid: {attname: value}}. Returns {moid: pk} of the rows now stored. Rows are
        compared by their digest: at vCenter's maximums the values (the hosts of every datastore and
        port group: millions of ids) would cost more to read back than to write."""
        fields = FIELDS[model]
        existing = {moid: (pk, digest) for moid, pk, digest in
                    model.objects.filter(vcenter=self.vcenter).order_by().values_list("moid", "pk", "digest")}
        ids, changed = {}, []
        for moid, row in rows.items():
            digest = digest_of(model, row)
            old = existing.get(moid)
            if old is not None and old[1] == digest:
                ids[moid] = old[0]
            else:
                changed.append(model(vcenter=self.vcenter, moid=moid, digest=digest, **row))
        if changed:
            # New rows are inserted, changed ones updated in place: one statement per batch, and
            # the primary key of every row comes back (RETURNING), the kept ones' unchanged.
            written = model.objects.bulk_create(changed, batch_size=BATCH, update_conflicts=True,
                                                unique_fields=["vcenter", "moid"], update_fields=[*fields, "digest"])
            ids.update((obj.moid, obj.pk) for obj in written)
        self.vanished.append((model, [pk for moid, (pk, _) in existing.items() if moid not in rows]))
        return ids

    def delete_vanished(self) -> None:
        for model, pks in reversed(self.vanished):  # children first
            for start in range(0, len(pks), BATCH):
                model.objects.filter(pk__in=pks[start:start + BATCH]).delete()


def digest_of(model, row: dict) -> str:
    """What a row stores, hashed (every writer of these rows sets it: the full store and the watcher's)."""
    values = [row[name] for name in FIELDS[model]]
    return hashlib.sha1(json.dumps(values, sort_keys=True, default=str, separators=(",", ":")).encode(),
                        usedforsecurity=False).hexdigest()


def vm_values(vm: dict, datacenter_id) -> dict:
    """A VM row's attnames from the reader's values."""
    return {"name": vm["name"][:255], "datacenter_id": datacenter_id, "host_moid": vm["host"], "cluster_moid": vm["cluster"],
            "resource_pool_moid": vm["resource_pool"], "folder_moid": vm["folder"], "power_state": vm["power_state"],
            "connection_state": vm["connection_state"], "tools_running_status": vm["tools_running_status"],
            "ip_address": vm["ip_address"][:64], "ip_addresses": list(vm["ip_addresses"]),
            "deployment_id": vm["deployment_id"][:64], "role": vm["role"][:64], "custom_values": dict(vm["custom_values"]),
            "template": vm["template"], "cpu_count": vm["cpu_count"], "memory_mb": vm["memory_mb"]}


def raise_generation(vcenter) -> None:
    """Last in every write transaction: a reader inside a transaction of its own choosing (READ
    COMMITTED) sees by the generation whether a write committed while it read (InventoryContext)."""
    m.Datacenter.objects.filter(vcenter=vcenter).update(generation=F("generation") + 1)


@transaction.atomic
def store_vcenter_snapshot(vcenter, snap, fence=None) -> dict:
    """fence: called first in the transaction (it may lock and refuse: the watcher's lease, a
    sync that a watcher overtook); what it raises rolls everything back."""
    if fence is not None:
        fence()
    picture = _Picture(vcenter)
    datacenters = picture.put(m.Datacenter, {moid: {"name": d["name"]} for moid, d in snap.datacenters.items()})
    dc = datacenters.get
    clusters = picture.put(m.Cluster, {
        moid: {"name": c["name"], "datacenter_id": dc(c["datacenter"]), "host_count": c["host_count"],
               "cpu_cores": c["cpu_cores"], "cpu_mhz": c["cpu_mhz"], "memory_bytes": c["memory_bytes"],
               "cpu_used_mhz": c["cpu_used_mhz"], "memory_used_bytes": c["memory_used_bytes"],
               "drs_enabled": c["drs_enabled"], "ha_enabled": c["ha_enabled"], "resource_pool_moid": c["resource_pool"] or "",
               "rules": c.get("rules", [])}
        for moid, c in snap.clusters.items() if dc(c["datacenter"])
    })
    picture.put(m.Host, {
        moid: {"name": h["name"], "datacenter_id": dc(h["datacenter"]), "cluster_id": clusters.get(h["cluster"]),
               "connection_state": h["connection_state"], "power_state": h["power_state"],
               "in_maintenance_mode": h["in_maintenance_mode"], "cpu_cores": h["cpu_cores"], "cpu_mhz": h["cpu_mhz"],
               "memory_bytes": h["memory_bytes"], "cpu_used_mhz": h["cpu_used_mhz"],
               "memory_used_bytes": h["memory_used_bytes"], "version": h["version"]}
        for moid, h in snap.hosts.items() if dc(h["datacenter"])
    })
    switches = picture.put(m.DistributedSwitch, {
        moid: {"name": s["name"], "datacenter_id": dc(s["datacenter"]), "uuid": s["uuid"], "version": s["version"],
               "mtu": s["mtu"], "host_moids": list(s["hosts"])}
        for moid, s in snap.switches.items() if dc(s["datacenter"])
    })
    datastores = picture.put(m.Datastore, {
        moid: {"name": d["name"], "datacenter_id": dc(d["datacenter"]), "type": d["type"], "url": d["url"],
               "capacity_bytes": d["capacity_bytes"], "free_bytes": d["free_bytes"], "accessible": d["accessible"],
               "maintenance_mode": d["maintenance_mode"], "host_moids": list(d["hosts"])}
        for moid, d in snap.datastores.items() if dc(d["datacenter"])
    })
    networks = picture.put(m.Network, {
        moid: {"name": n["name"], "datacenter_id": dc(n["datacenter"]), "kind": n["kind"], "switch_id": switches.get(n["switch"]),
               "vlan_id": n["vlan_id"], "vlan_trunk": [list(r) for r in n["vlan_trunk"]], "uplink": n["uplink"],
               "host_moids": list(n["hosts"])}
        for moid, n in snap.networks.items() if dc(n["datacenter"])
    })
    picture.put(m.ResourcePool, {
        moid: {"name": p["name"], "datacenter_id": dc(p["datacenter"]), "cluster_id": clusters.get(p["owner"]),
               "parent_moid": p["parent"] or ""}
        for moid, p in snap.resource_pools.items()
    })
    picture.put(m.Folder, {
        moid: {"name": f["name"], "datacenter_id": dc(snap_datacenter_of_folder(snap, moid)), "parent_moid": f["parent"] or "",
               "child_types": list(f["child_types"])}
        for moid, f in snap.folders.items()
    })
    picture.put(m.VmTemplate, {moid: {"name": t["name"]} for moid, t in snap.templates.items()})
    picture.put(m.VirtualMachine, {moid: vm_values(vm, dc(vm["datacenter"])) for moid, vm in snap.vms.items()})
    picture.delete_vanished()

    # "Usable from a cluster": mounted by, or present on, every host of the cluster.
    clusters_by_dc: dict = {}
    for moid, c in snap.clusters.items():
        if moid in clusters:
            members = {h for h, host in snap.hosts.items() if host["cluster"] == moid}
            clusters_by_dc.setdefault(c["datacenter"], []).append((clusters[moid], members))
    _put_pairs(vcenter, m.Datastore.clusters.through, "datastore", {
        (datastores[moid], cluster)
        for moid, d in snap.datastores.items() if moid in datastores
        for cluster in _covering_clusters(d["hosts"], clusters_by_dc, d["datacenter"])
    })
    _put_pairs(vcenter, m.Network.clusters.through, "network", {
        (networks[moid], cluster)
        for moid, n in snap.networks.items() if moid in networks
        for cluster in _covering_clusters(n["hosts"], clusters_by_dc, n["datacenter"])
    })
    raise_generation(vcenter)  # last, in the same transaction
    return {
        "datacenters": len(datacenters), "clusters": len(clusters), "hosts": len(snap.hosts),
        "datastores": len(datastores), "networks": len(networks), "switches": len(switches),
        "resource_pools": len(snap.resource_pools), "folders": len(snap.folders), "templates": len(snap.templates),
        "vms": len(snap.vms),
    }


@transaction.atomic
def store_vm_changes(vcenter, vms: dict[str, dict], gone: list[str], fence=None) -> int:
    """Apply a watcher's VM changes in one small transaction: upsert the changed VMs (one statement
    per batch), delete the vanished ones, keep the templates' list in step, raise the generation.
    vms: {moid: reader values}. Returns the rows written."""
    if fence is not None:
        fence()
    datacenters = dict(m.Datacenter.objects.filter(vcenter=vcenter).values_list("moid", "pk"))
    rows = []
    for moid, vm in vms.items():
        values = vm_values(vm, datacenters.get(vm["datacenter"]))
        rows.append(m.VirtualMachine(vcenter=vcenter, moid=moid, digest=digest_of(m.VirtualMachine, values), **values))
    fields = [*FIELDS[m.VirtualMachine], "digest"]
    if rows:
        m.VirtualMachine.objects.bulk_create(rows, batch_size=BATCH, update_conflicts=True,
                                             unique_fields=["vcenter", "moid"], update_fields=fields)
    templates = {moid: vm["name"][:255] for moid, vm in vms.items() if vm["template"]}
    if templates:
        m.VmTemplate.objects.bulk_create([m.VmTemplate(vcenter=vcenter, moid=moid, name=name,
                                                       digest=digest_of(m.VmTemplate, {"name": name}))
                                          for moid, name in templates.items()],
                                         update_conflicts=True, unique_fields=["vcenter", "moid"], update_fields=["name", "digest"])
    not_templates = [moid for moid, vm in vms.items() if not vm["template"]] + list(gone)
    for start in range(0, len(not_templates), BATCH):
        m.VmTemplate.objects.filter(vcenter=vcenter, moid__in=not_templates[start:start + BATCH]).delete()
    for start in range(0, len(gone), BATCH):
        m.VirtualMachine.objects.filter(vcenter=vcenter, moid__in=gone[start:start + BATCH]).delete()
    raise_generation(vcenter)
    return len(rows) + len(gone)


def _put_pairs(vcenter, through, owner: str, wanted: set[tuple[int, int]]) -> None:
    """Bring the vCenter's (owner id, cluster id) rows of a many-to-many table to `wanted`: delete
    only the pairs that went away, insert only the new ones."""
    existing = {(owner_id, cluster_id): pk for pk, owner_id, cluster_id in
                through.objects.filter(**{f"{owner}__vcenter": vcenter}).values_list("pk", f"{owner}_id", "cluster_id")}
    gone = [pk for pair, pk in existing.items() if pair not in wanted]
    for start in range(0, len(gone), BATCH):
        through.objects.filter(pk__in=gone[start:start + BATCH]).delete()
    _insert_pairs(through, f"{owner}_id", sorted(wanted - existing.keys()))


def _insert_pairs(through, left_column: str, pairs: list[tuple[int, int]]) -> None:
    """Insert many-to-many rows with one executemany: thousands of them at scale (the first sync),
    and building a model instance per row would cost more than the whole vCenter read."""
    if not pairs:
        return
    table = connection.ops.quote_name(through._meta.db_table)
    columns = f"{connection.ops.quote_name(left_column)}, {connection.ops.quote_name('cluster_id')}"
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES (%s, %s)", pairs)


def snap_datacenter_of_folder(snap, moid: str) -> str | None:
    for _ in range(64):
        if moid is None or moid in snap.datacenters:
            return moid
        moid = snap.folders.get(moid, {}).get("parent")
    return None


@transaction.atomic
def store_nsx_snapshot(manager, client) -> dict:
    """Read everything first (so a failure leaves the old picture), then replace it."""
    version = client.version()
    zones = client.transport_zones()
    edges = client.edges()
    controllers = client.controllers()
    vds = client.vds_contexts()
    cluster_moids = sorted({moid for zone in zones for moid in zone.cluster_moids} | set(
        m.Cluster.objects.filter(vcenter_id=manager.vcenter_id).values_list("moid", flat=True)))
    fabric = {moid: client.fabric_status(moid) for moid in cluster_moids}
    registration = client.vcenter_registration()

    for model in (m.NsxTransportZone, m.NsxEdge, m.NsxController):
        model.objects.filter(manager=manager).delete()
    m.NsxTransportZone.objects.bulk_create([
        m.NsxTransportZone(manager=manager, object_id=z.id, name=z.name, control_plane_mode=z.control_plane_mode,
                           cluster_moids=list(z.cluster_moids)) for z in zones])
    m.NsxEdge.objects.bulk_create([
        m.NsxEdge(manager=manager, object_id=e.id, name=e.name, edge_type=e.type, state=e.state, status=e.status,
                  datacenter_moid=e.datacenter_moid or "", appliance_version=e.appliance_version or "") for e in edges])
    m.NsxController.objects.bulk_create([
        m.NsxController(manager=manager, object_id=c.id, name=c.name or "", ip_address=c.ip_address or "",
                        status=c.status or "") for c in controllers])
    manager.version = version.number
    manager.vds_contexts = [context_as_dict(c) for c in vds]
    manager.fabric = {moid: status_as_dict(status) for moid, status in fabric.items()}
    manager.registration = context_as_dict(registration)
    manager.save(update_fields=["version", "vds_contexts", "fabric", "registration", "updated_at"])
    return {"transport_zones": len(zones), "edges": len(edges), "controllers": len(controllers), "vds": len(vds)}


def context_as_dict(value) -> dict:
    """A client dataclass as JSON-ready data (datetimes as ISO 8601 text)."""
    from dataclasses import asdict

    return {key: item.isoformat() if isinstance(item, datetime) else item for key, item in asdict(value).items()}


def status_as_dict(value) -> dict:
    return {k: context_as_dict(v) for k, v in value.items()} if isinstance(value, dict) else context_as_dict(value)
