"""vCenter registration (trust on first use) and the inventory sync, against the real simulator.

Every stored field is compared with what pyvmomi reads directly from the same simulator."""

import threading
import time

import pytest
from pyVmomi import vim

from inventory import models as m
from inventory.choices import ConnectionStatus, SyncState
from inventory.clients.vsphere import collect, disconnect, wait_for_tasks
from inventory.services import endpoints, sync
from inventory.services.errors import CertificateNotReviewed, ServiceError
from testkit.servers import UNRESOLVABLE_HOST

pytestmark = pytest.mark.django_db


def register_and_accept(handle, name="vc", password=None):
    vcenter = endpoints.register(m.VCenter, name=name, host=handle.host, port=handle.port,
                                 username=handle.username, password=password or handle.password)
    return endpoints.accept_certificate(vcenter, vcenter.presented_certificate["sha256"])


@pytest.fixture
def vcenter(vcsim):
    return register_and_accept(vcsim)


@pytest.fixture
def synced(vcenter):
    record = sync.sync_vcenter(vcenter.pk)
    assert record is not None and record.ok, record and record.error
    vcenter.refresh_from_db()
    return vcenter


# --- trust on first use ----------------------------------------------------------------------

def test_registering_shows_the_certificate_and_pins_only_after_acceptance(vcsim):
    vcenter = endpoints.register(m.VCenter, name="vc", host=vcsim.host, port=vcsim.port,
                                 username=vcsim.username, password=vcsim.password)
    assert vcenter.status == ConnectionStatus.CERTIFICATE_PENDING and not vcenter.is_pinned
    shown = vcenter.presented_certificate
    assert shown["sha256"] == vcsim.fingerprint and "vcsa.vio.local" in shown["subject"]
    assert shown["not_before"] < shown["not_after"]

    vcenter = endpoints.accept_certificate(vcenter, shown["sha256"].lower())  # any case, colons optional
    assert vcenter.certificate_sha256 == vcsim.fingerprint
    assert vcenter.status == ConnectionStatus.CONNECTED and "vCenter Server" in vcenter.about["full_name"]
    # Stored encrypted: the database never holds the password in clear.
    from django.db import connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT password FROM inventory_vcenter WHERE id = %s", [vcenter.pk])
        assert vcsim.password not in cursor.fetchone()[0]


def test_accepting_a_fingerprint_other_than_the_presented_one_pins_nothing(vcsim):
    vcenter = endpoints.register(m.VCenter, name="vc", host=vcsim.host, port=vcsim.port,
                                 username=vcsim.username, password=vcsim.password)
    with pytest.raises(CertificateNotReviewed) as caught:
        endpoints.accept_certificate(vcenter, "AB" * 32)
    assert caught.value.field == "fingerprint" and vcsim.fingerprint in caught.value.message
    vcenter.refresh_from_db()
    assert not vcenter.is_pinned
    with pytest.raises(ServiceError, match="64 hexadecimal digits"):
        endpoints.accept_certificate(vcenter, "not-a-fingerprint")


def test_wrong_password_is_a_clear_error_status(vcsim):
    vcenter = register_and_accept(vcsim, password="not-the-password")
    assert vcenter.status == ConnectionStatus.ERROR and vcenter.status_code == "invalid_credentials"
    assert "user name or password" in vcenter.status_message and "not-the-password" not in vcenter.status_message


@pytest.mark.parametrize("host,port,code", [(UNRESOLVABLE_HOST, 443, "dns_failure"), ("127.0.0.1", 9, "host_unreachable")])
def test_bad_addresses_are_refused_with_distinct_errors(host, port, code):
    with pytest.raises(ServiceError) as caught:
        endpoints.register(m.VCenter, name="vc", host=host, port=port, username="u", password="p")
    assert caught.value.code == code and caught.value.field == "host"
    assert not m.VCenter.objects.exists()


def test_a_server_that_is_not_vcenter_is_named_as_such(https_server):
    vcenter = endpoints.register(m.VCenter, name="web", host="127.0.0.1", port=https_server.port, username="u", password="p")
    vcenter = endpoints.accept_certificate(vcenter, vcenter.presented_certificate["sha256"])
    assert vcenter.status == ConnectionStatus.ERROR and vcenter.status_code == "not_a_vcenter"


def test_a_changed_certificate_is_refused_until_accepted_again(vcsim_factory, free_port):
    first = vcsim_factory("-listen", f"127.0.0.1:{free_port}")
    vcenter = register_and_accept(first)
    assert vcenter.status == ConnectionStatus.CONNECTED
    first.running.stop()

    second = vcsim_factory("-listen", f"127.0.0.1:{free_port}")  # same address, new certificate
    vcenter = endpoints.check_connection(vcenter)
    assert vcenter.status == ConnectionStatus.CERTIFICATE_CHANGED and vcenter.status_code == "certificate_changed"
    assert vcenter.presented_certificate["sha256"] == second.fingerprint
    assert vcenter.certificate_sha256 == first.fingerprint  # still pinned to the old one
    record = sync.sync_vcenter(vcenter.pk)
    assert not record.ok and "changed" in record.error

    vcenter = endpoints.accept_certificate(vcenter, second.fingerprint)
    assert vcenter.status == ConnectionStatus.CONNECTED and vcenter.certificate_sha256 == second.fingerprint


# --- the synced picture equals what pyvmomi reads ------------------------------------------------

def test_clusters_and_hosts_match_pyvmomi(synced, vcenter_si):
    clusters = {r["_obj"]._moId: r for r in collect(vcenter_si, vim.ClusterComputeResource, ["name", "host", "summary", "configurationEx", "resourcePool"])}
    stored = {c.moid: c for c in m.Cluster.objects.filter(vcenter=synced)}
    assert stored.keys() == clusters.keys()
    for moid, row in clusters.items():
        cluster = stored[moid]
        assert (cluster.name, cluster.host_count) == (row["name"], len(row["host"]))
        assert (cluster.cpu_cores, cluster.cpu_mhz, cluster.memory_bytes) == (
            row["summary"].numCpuCores, row["summary"].totalCpu, row["summary"].totalMemory)
        assert cluster.drs_enabled == bool(row["configurationEx"].drsConfig.enabled)
        assert cluster.ha_enabled == bool(row["configurationEx"].dasConfig.enabled)
        assert cluster.resource_pool_moid == row["resourcePool"]._moId
        assert cluster.datacenter.name == "VIO-Datacenter"

    hosts = collect(vcenter_si, vim.HostSystem, ["name", "parent", "runtime", "summary"])
    stored_hosts = {h.moid: h for h in m.Host.objects.filter(vcenter=synced).select_related("cluster")}
    assert stored_hosts.keys() == {r["_obj"]._moId for r in hosts}
    for row in hosts:
        host, hw = stored_hosts[row["_obj"]._moId], row["summary"].hardware
        assert host.name == row["name"] and host.cluster.moid == row["parent"]._moId
        assert (host.connection_state, host.power_state, host.in_maintenance_mode) == (
            row["runtime"].connectionState, row["runtime"].powerState, row["runtime"].inMaintenanceMode)
        assert (host.cpu_cores, host.cpu_mhz, host.memory_bytes) == (hw.numCpuCores, hw.numCpuCores * hw.cpuMhz, hw.memorySize)
        assert host.cpu_used_mhz == row["summary"].quickStats.overallCpuUsage
        assert host.memory_used_bytes == row["summary"].quickStats.overallMemoryUsage * 2**20
        assert host.version == row["summary"].config.product.version


def test_datastores_match_pyvmomi(synced, vcenter_si):
    mounted = {}
    for row in collect(vcenter_si, vim.HostSystem, ["datastore"]):
        for ds in row["datastore"]:
            mounted.setdefault(ds._moId, set()).add(row["_obj"]._moId)
    rows = collect(vcenter_si, vim.Datastore, ["name", "summary"])
    stored = {d.moid: d for d in m.Datastore.objects.filter(vcenter=synced).prefetch_related("clusters")}
    assert stored.keys() == {r["_obj"]._moId for r in rows}
    for row in rows:
        ds, summary = stored[row["_obj"]._moId], row["summary"]
        assert (ds.name, ds.type, ds.url) == (row["name"], summary.type, summary.url)
        assert (ds.capacity_bytes, ds.free_bytes) == (summary.capacity, summary.freeSpace)
        assert (ds.accessible, ds.maintenance_mode) == (summary.accessible, summary.maintenanceMode)
        assert set(ds.host_moids) == mounted[row["_obj"]._moId]
    by_name = {d.name: d for d in stored.values()}
    assert {c.name for c in by_name["vio-shared-nfs"].clusters.all()} == {"Management", "Edge", "Compute-A", "Compute-B"}
    assert {c.name for c in by_name["vio-compute-nfs"].clusters.all()} == {"Compute-A", "Compute-B"}
    assert by_name["vio-shared-nfs"].shared and not by_name["local-esx-mgmt-01.vio.local"].shared
    assert not by_name["local-esx-mgmt-01.vio.local"].clusters.exists()  # one host is not a whole cluster


def test_networks_and_switches_match_pyvmomi(synced, vcenter_si):
    portgroups = collect(vcenter_si, vim.dvs.DistributedVirtualPortgroup, ["name", "config", "host"])
    stored = {n.moid: n for n in m.Network.objects.filter(vcenter=synced).select_related("switch")}
    for row in portgroups:
        network, vlan = stored[row["_obj"]._moId], row["config"].defaultPortConfig.vlan
        assert network.kind == "distributed" and network.name == row["name"]
        assert network.switch.moid == row["config"].distributedVirtualSwitch._moId
        if isinstance(vlan, vim.dvs.VmwareDistributedVirtualSwitch.TrunkVlanSpec):
            assert network.vlan_trunk == [[r.start, r.end] for r in vlan.vlanId] and network.vlan_id is None
        else:
            assert network.vlan_id == vlan.vlanId and network.vlan_trunk == []
        assert set(network.host_moids) == {h._moId for h in row["host"]}
    by_name = {n.name: n for n in stored.values()}
    assert by_name["VIO-Data-Trunk"].is_full_trunk and by_name["VIO-Management"].vlan_display == "VLAN 100"
    assert by_name["VM Network"].kind == "standard" and by_name["VM Network"].vlan_id == 0
    assert {c.name for c in by_name["VIO-Management"].clusters.all()} == {"Management", "Edge", "Compute-A", "Compute-B"}
    uplinks = [n for n in stored.values() if n.uplink]
    assert len(uplinks) == 1 and uplinks[0].name.startswith("VIO-DSwitch-DVUplinks")

    switches = collect(vcenter_si, vim.DistributedVirtualSwitch, ["name", "uuid", "config", "summary"])
    (switch,) = m.DistributedSwitch.objects.filter(vcenter=synced)
    row = switches[0]
    assert (switch.moid, switch.name, switch.uuid) == (row["_obj"]._moId, row["name"], row["uuid"])
    assert (switch.version, switch.mtu) == (row["summary"].productInfo.version, row["config"].maxMtu)
    assert set(switch.host_moids) == {h._moId for h in row["summary"].hostMember}


def test_pools_folders_and_templates_match_pyvmomi(synced, vcenter_si):
    pools = collect(vcenter_si, vim.ResourcePool, ["name", "owner", "parent"])
    stored = {p.moid: p for p in m.ResourcePool.objects.filter(vcenter=synced).select_related("cluster")}
    for row in pools:
        assert stored[row["_obj"]._moId].cluster.moid == row["owner"]._moId
    folders = collect(vcenter_si, vim.Folder, ["name", "parent", "childType"])
    stored_folders = {f.moid: f for f in m.Folder.objects.filter(vcenter=synced)}
    assert stored_folders.keys() == {r["_obj"]._moId for r in folders}
    templates = [r for r in collect(vcenter_si, vim.VirtualMachine, ["name", "config.template"]) if r.get("config.template")]
    assert {(t.moid, t.name) for t in m.VmTemplate.objects.filter(vcenter=synced)} == {(r["_obj"]._moId, r["name"]) for r in templates}


STORED = (m.Datacenter, m.Cluster, m.Host, m.Datastore, m.DistributedSwitch, m.Network, m.ResourcePool, m.Folder, m.VmTemplate)


def stored_ids(vcenter) -> dict:
    """{model: {moid: pk}} and {table: {(owner id, cluster id): row id}} of the "usable from" pairs."""
    ids = {model: dict(model.objects.filter(vcenter=vcenter).values_list("moid", "pk")) for model in STORED}
    for model, owner in ((m.Datastore, "datastore"), (m.Network, "network")):
        rows = model.clusters.through.objects.filter(**{f"{owner}__vcenter": vcenter}).values_list("pk", f"{owner}_id", "cluster_id")
        ids[owner] = {(left, cluster): pk for pk, left, cluster in rows}
    return ids


def test_a_resync_updates_the_picture_in_place(vcsim_factory):
    """Rows keep their primary key on (vCenter, moid) across syncs: what vCenter added appears,
    what it removed disappears, what changed is updated, and the "usable from" pairs that stayed
    keep their rows."""
    fresh = vcsim_factory()
    vcenter = register_and_accept(fresh)
    assert sync.sync_vcenter(vcenter.pk).ok
    before = stored_ids(vcenter)
    si = fresh.connect()
    try:
        dvs = collect(si, vim.DistributedVirtualSwitch, ["name"])[0]["_obj"]
        spec = vim.dvs.DistributedVirtualPortgroup.ConfigSpec(name="Tenant-VLAN-300", type="earlyBinding", numPorts=8,
            defaultPortConfig=vim.dvs.VmwareDistributedVirtualSwitch.VmwarePortConfigPolicy(
                vlan=vim.dvs.VmwareDistributedVirtualSwitch.VlanIdSpec(vlanId=300)))
        wait_for_tasks(si, [dvs.AddDVPortgroup_Task([spec])])
        external = next(r["_obj"] for r in collect(si, vim.dvs.DistributedVirtualPortgroup, ["name"]) if r["name"] == "VIO-External")
        wait_for_tasks(si, [external.Destroy_Task()])
        host = next(r["_obj"] for r in collect(si, vim.HostSystem, ["name"]) if r["name"] == "esx-compb-02.vio.local")
        wait_for_tasks(si, [host.EnterMaintenanceMode_Task(timeout=0)])
        datacenter = collect(si, vim.Datacenter, ["name"])[0]["_obj"]
        added_folder = datacenter.vmFolder.CreateFolder("vio-added")._moId
    finally:
        disconnect(si)

    record = sync.sync_vcenter(vcenter.pk)
    assert record.ok
    after = stored_ids(vcenter)
    for model in STORED:
        kept = before[model].keys() & after[model].keys()
        assert {moid: after[model][moid] for moid in kept} == {moid: before[model][moid] for moid in kept}, model.__name__
    # Added: new rows with new ids.
    tenant = m.Network.objects.get(vcenter=vcenter, name="Tenant-VLAN-300")
    assert tenant.vlan_id == 300 and tenant.moid not in before[m.Network] and tenant.pk not in before[m.Network].values()
    assert set(after[m.Folder]) - set(before[m.Folder]) == {added_folder}
    assert {c.name for c in tenant.clusters.all()} == {"Management", "Edge", "Compute-A", "Compute-B"}
    # Removed: the row and its pairs are gone, nothing else is.
    (external_moid,) = set(before[m.Network]) - set(after[m.Network])
    assert not m.Network.objects.filter(vcenter=vcenter, name="VIO-External").exists()
    external_pk = before[m.Network][external_moid]
    assert not any(left == external_pk for left, _ in after["network"])
    assert set(after[m.Network]) - set(before[m.Network]) == {tenant.moid}
    # Changed: updated in place.
    changed = m.Host.objects.get(vcenter=vcenter, name="esx-compb-02.vio.local")
    assert changed.in_maintenance_mode and changed.pk == before[m.Host][changed.moid]
    assert m.Cluster.objects.filter(vcenter=vcenter).count() == 4
    # The pairs that stayed kept their rows; only the removed port group's went, only the new one's came.
    for owner in ("datastore", "network"):
        kept = before[owner].keys() & after[owner].keys()
        assert {pair: after[owner][pair] for pair in kept} == {pair: before[owner][pair] for pair in kept}
    assert before["datastore"] == after["datastore"]
    assert set(before["network"]) - set(after["network"]) == {(external_pk, c) for left, c in before["network"] if left == external_pk}
    assert set(after["network"]) - set(before["network"]) == {(tenant.pk, c) for c in tenant.clusters.values_list("pk", flat=True)}

    # A sync that finds nothing new changes no id at all.
    assert sync.sync_vcenter(vcenter.pk).ok
    assert stored_ids(vcenter) == after


def test_a_host_that_leaves_a_vanished_cluster_keeps_its_row(vcenter_si, synced):
    """Deletions wait until every row is written: a host moved out of a cluster that vanished in the
    same sync is updated, not deleted with the cluster and inserted again."""
    from inventory.clients.vsphere_inventory import read_inventory
    from inventory.services.snapshot_store import store_vcenter_snapshot

    snap = read_inventory(vcenter_si)
    clusters = {c["name"]: moid for moid, c in snap.clusters.items()}
    hosts_before = dict(m.Host.objects.filter(vcenter=synced).values_list("moid", "pk"))
    moved = [moid for moid, h in snap.hosts.items() if h["cluster"] == clusters["Compute-B"]]
    assert moved
    del snap.clusters[clusters["Compute-B"]]
    for moid in moved:
        snap.hosts[moid]["cluster"] = clusters["Compute-A"]
    for moid, pool in list(snap.resource_pools.items()):
        if pool["owner"] == clusters["Compute-B"]:
            del snap.resource_pools[moid]
    store_vcenter_snapshot(synced, snap)

    assert not m.Cluster.objects.filter(vcenter=synced, name="Compute-B").exists()
    assert dict(m.Host.objects.filter(vcenter=synced).values_list("moid", "pk")) == hosts_before
    compute_a = m.Cluster.objects.get(vcenter=synced, name="Compute-A")
    assert set(m.Host.objects.filter(moid__in=moved).values_list("cluster_id", flat=True)) == {compute_a.pk}
    assert not m.Datastore.clusters.through.objects.filter(datastore__vcenter=synced, cluster__name="Compute-B").exists()


def test_a_sync_reads_the_inventory_in_a_handful_of_round_trips(synced):
    record = synced.sync_records.get()
    assert record.ok and record.round_trips <= 12
    assert record.counts["clusters"] == 4 and record.counts["hosts"] == 11
    assert synced.sync_state == SyncState.IDLE and synced.last_synced_at and not synced.is_stale


def test_a_sync_survives_an_expired_session(vcsim, vcenter):
    sync.sync_vcenter(vcenter.pk)  # a session now exists in this process
    vcsim.inject(method="RetrievePropertiesEx", fault="NotAuthenticated", count=1)
    record = sync.sync_vcenter(vcenter.pk)
    assert record.ok, record.error


@pytest.mark.django_db(transaction=True)
def test_never_two_syncs_at_once_for_one_vcenter(vcsim):
    vcenter = register_and_accept(vcsim, name="concurrent")
    vcsim.inject(method="RetrievePropertiesEx", delay=1500, count=1)  # the first sync is slow
    results = []

    def run():
        results.append(sync.sync_vcenter(vcenter.pk))

    first = threading.Thread(target=run)
    first.start()
    deadline = time.monotonic() + 5
    while m.VCenter.objects.get(pk=vcenter.pk).sync_state != SyncState.RUNNING and time.monotonic() < deadline:
        time.sleep(0.02)
    run()  # while the first is running
    assert results == [None]
    assert sync.request_sync(vcenter) is False  # no queueing behind a running sync either
    first.join(30)
    assert len(results) == 2 and results[1].ok
    assert m.SyncRecord.objects.filter(vcenter=vcenter).count() == 1


def test_beat_fully_syncs_a_live_vcenter_only_as_a_safety_net(synced, settings):
    """A vCenter whose picture a watcher keeps live is re-synced by beat every
    VIO_INVENTORY_FULL_SYNC_MINUTES only; one that is not live, at every round."""
    from datetime import timedelta

    from django.utils import timezone

    from inventory.services import lease

    token = lease.acquire(synced.pk, "a-watcher")
    now = timezone.now()
    lease.update(synced.pk, "a-watcher", token, state=m.WatchState.LIVE, live_since=now, confirmed_at=now,
                 last_full_sync_at=now - timedelta(minutes=settings.VIO_INVENTORY_FULL_SYNC_MINUTES - 1))
    sync.sync_all()
    assert m.VCenter.objects.get(pk=synced.pk).sync_state == SyncState.IDLE  # live, and fully synced lately

    m.InventoryWatch.objects.filter(pk=synced.pk).update(
        last_full_sync_at=now - timedelta(minutes=settings.VIO_INVENTORY_FULL_SYNC_MINUTES + 1))
    sync.sync_all()
    assert m.VCenter.objects.get(pk=synced.pk).sync_state == SyncState.QUEUED  # the safety net

    m.VCenter.objects.filter(pk=synced.pk).update(sync_state=SyncState.IDLE)
    lease.release(synced.pk, "a-watcher", token)  # no watcher: every round again
    sync.sync_all()
    assert m.VCenter.objects.get(pk=synced.pk).sync_state == SyncState.QUEUED


def test_every_vm_and_its_places_are_stored(synced, vcenter_si):
    rows = collect(vcenter_si, vim.VirtualMachine, ["name", "runtime.host", "config.template", "parent"])
    stored = {vm.moid: vm for vm in m.VirtualMachine.objects.filter(vcenter=synced)}
    assert set(stored) == {r["_obj"]._moId for r in rows}
    for row in rows:
        vm = stored[row["_obj"]._moId]
        assert (vm.name, vm.template, vm.folder_moid) == (row["name"], row["config.template"], row["parent"]._moId)
        assert vm.host_moid == (row["runtime.host"]._moId if row.get("runtime.host") else "")
    record = synced.sync_records.first()
    assert record.counts["vms"] == len(rows) and record.round_trips <= 6  # VMs cost no extra round trip
