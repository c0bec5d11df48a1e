"""Store what a sync read, replacing the previous picture of that vCenter or NSX Manager."""

from datetime import datetime

from django.db import connection, transaction

from inventory import models as m


def _covering_clusters(host_moids, clusters_by_dc: dict, datacenter_moid: str) -> list:
    """Clusters (of the object's datacenter) whose every host is in host_moids."""
    hosts = set(host_moids)
    return [cluster for cluster, members in clusters_by_dc.get(datacenter_moid, []) if members and members <= hosts]


@transaction.atomic
def store_vcenter_snapshot(vcenter, snap) -> dict:
    for model in (m.VmTemplate, m.Folder, m.ResourcePool):
        model.objects.filter(vcenter=vcenter).delete()
    m.Network.clusters.through.objects.filter(network__vcenter=vcenter).delete()
    m.Datastore.clusters.through.objects.filter(datastore__vcenter=vcenter).delete()
    for model in (m.Network, m.Datastore, m.DistributedSwitch, m.Host, m.Cluster, m.Datacenter):
        model.objects.filter(vcenter=vcenter).delete()

    def create(model, rows):
        objects = model.objects.bulk_create(rows, batch_size=1000)
        return {obj.moid: obj for obj in objects}

    base = {"vcenter": vcenter}
    datacenters = create(m.Datacenter, [m.Datacenter(moid=moid, name=d["name"], **base) for moid, d in snap.datacenters.items()])
    dc = datacenters.get
    clusters = create(m.Cluster, [
        m.Cluster(moid=moid, name=c["name"], datacenter=dc(c["datacenter"]), host_count=c["host_count"],
                  cpu_cores=c["cpu_cores"], cpu_mhz=c["cpu_mhz"], memory_bytes=c["memory_bytes"],
                  cpu_used_mhz=c["cpu_used_mhz"], memory_used_bytes=c["memory_used_bytes"],
                  drs_enabled=c["drs_enabled"], ha_enabled=c["ha_enabled"], resource_pool_moid=c["resource_pool"] or "",
                  **base)
        for moid, c in snap.clusters.items() if dc(c["datacenter"])
    ])
    create(m.Host, [
        m.Host(moid=moid, name=h["name"], datacenter=dc(h["datacenter"]), cluster=clusters.get(h["cluster"]),
               connection_state=h["connection_state"], power_state=h["power_state"],
               in_maintenance_mode=h["in_maintenance_mode"], cpu_cores=h["cpu_cores"], cpu_mhz=h["cpu_mhz"],
               memory_bytes=h["memory_bytes"], cpu_used_mhz=h["cpu_used_mhz"], memory_used_bytes=h["memory_used_bytes"],
               version=h["version"], **base)
        for moid, h in snap.hosts.items() if dc(h["datacenter"])
    ])
    switches = create(m.DistributedSwitch, [
        m.DistributedSwitch(moid=moid, name=s["name"], datacenter=dc(s["datacenter"]), uuid=s["uuid"],
                            version=s["version"], mtu=s["mtu"], host_moids=s["hosts"], **base)
        for moid, s in snap.switches.items() if dc(s["datacenter"])
    ])
    datastores = create(m.Datastore, [
        m.Datastore(moid=moid, name=d["name"], datacenter=dc(d["datacenter"]), type=d["type"], url=d["url"],
                    capacity_bytes=d["capacity_bytes"], free_bytes=d["free_bytes"], accessible=d["accessible"],
                    maintenance_mode=d["maintenance_mode"], host_moids=d["hosts"], **base)
        for moid, d in snap.datastores.items() if dc(d["datacenter"])
    ])
    networks = create(m.Network, [
        m.Network(moid=moid, name=n["name"], datacenter=dc(n["datacenter"]), kind=n["kind"],
                  switch=switches.get(n["switch"]), vlan_id=n["vlan_id"], vlan_trunk=n["vlan_trunk"],
                  uplink=n["uplink"], host_moids=n["hosts"], **base)
        for moid, n in snap.networks.items() if dc(n["datacenter"])
    ])
    create(m.ResourcePool, [
        m.ResourcePool(moid=moid, name=p["name"], datacenter=dc(p["datacenter"]), cluster=clusters.get(p["owner"]),
                       parent_moid=p["parent"] or "", **base)
        for moid, p in snap.resource_pools.items()
    ])
    create(m.Folder, [
        m.Folder(moid=moid, name=f["name"], datacenter=dc(snap_datacenter_of_folder(snap, moid)),
                 parent_moid=f["parent"] or "", child_types=f["child_types"], **base)
        for moid, f in snap.folders.items()
    ])
    create(m.VmTemplate, [m.VmTemplate(moid=moid, name=t["name"], **base) for moid, t in snap.templates.items()])

    # "Usable from a cluster": mounted by, or present on, every host of the cluster.
    clusters_by_dc: dict = {}
    for moid, c in snap.clusters.items():
        if moid in clusters:
            members = {h for h, host in snap.hosts.items() if host["cluster"] == moid}
            clusters_by_dc.setdefault(c["datacenter"], []).append((clusters[moid], members))
    _insert_pairs(m.Datastore.clusters.through, "datastore_id", [
        (datastores[moid].pk, cluster.pk)
        for moid, d in snap.datastores.items() if moid in datastores
        for cluster in _covering_clusters(d["hosts"], clusters_by_dc, d["datacenter"])
    ])
    _insert_pairs(m.Network.clusters.through, "network_id", [
        (networks[moid].pk, cluster.pk)
        for moid, n in snap.networks.items() if moid in networks
        for cluster in _covering_clusters(n["hosts"], clusters_by_dc, n["datacenter"])
    ])
    return {
        "datacenters": len(datacenters), "clusters": len(clusters), "hosts": len(snap.hosts),
        "datastores": len(datastores), "networks": len(networks), "switches": len(switches),
        "resource_pools": len(snap.resource_pools), "folders": len(snap.folders), "templates": len(snap.templates),
    }


def _insert_pairs(through, left_column: str, pairs: list[tuple[int, int]]) -> None:
    """Insert many-to-many rows with one executemany: thousands of them at scale, and building a
    model instance per row would cost more than the whole vCenter read."""
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
