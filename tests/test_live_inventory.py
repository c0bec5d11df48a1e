"""The live inventory against the real simulator: changes made through pyvmomi appear in the
stored picture and in the API within seconds; a gap (an expired session, a simulator restart)
brings a full sync and then the picture is live again; a watcher whose lease was taken writes
nothing; every watcher write raises the datacenters' generation.

The watcher runs in this process (a Supervisor in a thread, as `manage.py watch_inventory` runs it)
with short leases and polls; tests/test_live_inventory_processes.py runs it as processes."""

import threading
import time

import pytest
from pyVmomi import vim

from inventory import models as m
from inventory.clients.vsphere import collect, disconnect, wait_for_tasks
from inventory.services import lease, snapshot_store
from testkit.spec import registered_vcenter
from testkit.watch import watching

pytestmark = pytest.mark.django_db(transaction=True)

SECONDS = 5  # a change must be visible within this


def eventually(check, timeout: float = SECONDS, what: str = ""):
    """check() until it returns something true; that value, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout:g} s: {what or check.__doc__ or check}")
        time.sleep(0.1)


@pytest.fixture
def fast(settings):
    """Leases, renewals and polls of a test's length."""
    settings.VIO_WATCH_LEASE_SECONDS = 4
    settings.VIO_WATCH_RENEW_SECONDS = 1
    settings.VIO_WATCH_POLL_SECONDS = 1
    settings.VIO_INVENTORY_LIVE_SECONDS = 5
    return settings


def live(vcenter, after_full_syncs: int = 0):
    def is_live():
        watch = m.InventoryWatch.objects.filter(pk=vcenter.pk).first()
        return watch if watch and watch.is_live and watch.full_syncs > after_full_syncs else None
    return eventually(is_live, 15, "the picture live")


def vm_row(vcenter, **filters):
    return m.VirtualMachine.objects.filter(vcenter=vcenter, **filters).first()


@pytest.fixture
def small(vcsim_factory):
    """A fresh small simulator (the VIO inventory and 8 VMs), registered and synced."""
    handle = vcsim_factory("-vms", "8")
    return handle, registered_vcenter(handle)


@pytest.fixture
def si(small):
    connection = small[0].connect()
    yield connection
    disconnect(connection)


def powered_on_vm(si):
    return next(r for r in collect(si, vim.VirtualMachine, ["name", "runtime.powerState", "runtime.host", "resourcePool"])
                if r["runtime.powerState"] == "poweredOn")


def api_vm(client, vcenter, moid):
    body = client.get(f"/api/v1/vcenters/{vcenter.pk}/inventory/vms/", {"limit": 500}).json()
    return next((vm for vm in body["results"] if vm["moid"] == moid), None)


# --- the full sync keeps every VM ---------------------------------------------------------------

def test_the_full_sync_stores_every_vm_as_pyvmomi_reads_it(small, si):
    _, vcenter = small
    rows = collect(si, vim.VirtualMachine, ["name", "runtime.host", "runtime.powerState", "config.template",
                                            "config.hardware.numCPU", "config.hardware.memoryMB", "resourcePool", "parent"])
    stored = {vm.moid: vm for vm in m.VirtualMachine.objects.filter(vcenter=vcenter)}
    assert len(rows) == 9 and set(stored) == {r["_obj"]._moId for r in rows}  # 8 VMs and the template
    hosts = {h.moid: h for h in m.Host.objects.filter(vcenter=vcenter).select_related("cluster")}
    for row in rows:
        vm = stored[row["_obj"]._moId]
        assert (vm.name, vm.power_state, vm.template) == (row["name"], row["runtime.powerState"], row["config.template"])
        assert vm.host_moid == row["runtime.host"]._moId and vm.cluster_moid == hosts[vm.host_moid].cluster.moid
        assert (vm.cpu_count, vm.memory_mb) == (row["config.hardware.numCPU"], row["config.hardware.memoryMB"])
        assert vm.folder_moid == row["parent"]._moId and vm.datacenter.name == "VIO-Datacenter"
        assert vm.resource_pool_moid == (row["resourcePool"]._moId if row.get("resourcePool") else "")
    assert set(m.VmTemplate.objects.filter(vcenter=vcenter).values_list("moid", flat=True)) == {
        moid for moid, vm in stored.items() if vm.template}


# --- changes made in vCenter appear within seconds ---------------------------------------------

def test_vm_changes_appear_in_the_picture_and_the_api_within_seconds(small, si, fast, admin_client):
    handle, vcenter = small
    with watching(vcenter.pk):
        live(vcenter)
        row = powered_on_vm(si)
        vm, moid = row["_obj"], row["_obj"]._moId

        wait_for_tasks(si, [vm.PowerOffVM_Task()])
        eventually(lambda: vm_row(vcenter, moid=moid, power_state="poweredOff"), what="power off in the picture")
        assert api_vm(admin_client, vcenter, moid)["power_state"] == "poweredOff"

        wait_for_tasks(si, [vm.Rename_Task("renamed-by-vsphere")])
        eventually(lambda: vm_row(vcenter, moid=moid, name="renamed-by-vsphere"), what="the rename")
        assert api_vm(admin_client, vcenter, moid)["name"] == "renamed-by-vsphere"

        cluster_hosts = [h.moid for h in m.Host.objects.filter(vcenter=vcenter, cluster__moid=vm_row(vcenter, moid=moid).cluster_moid)]
        target = next(h for h in cluster_hosts if h != row["runtime.host"]._moId)
        wait_for_tasks(si, [vm.RelocateVM_Task(vim.vm.RelocateSpec(host=vim.HostSystem(target, si._stub)))])
        eventually(lambda: vm_row(vcenter, moid=moid, host_moid=target), what="the migration")
        assert api_vm(admin_client, vcenter, moid)["host"] == target

        folder = vim.Folder(vm_row(vcenter, moid=moid).folder_moid, si._stub)
        clone = wait_for_tasks(si, [vm.CloneVM_Task(folder=folder, name="made-by-a-clone", spec=vim.vm.CloneSpec(
            location=vim.vm.RelocateSpec(pool=row["resourcePool"])))])
        made = next(iter(clone.values()))["info.result"]._moId
        eventually(lambda: vm_row(vcenter, moid=made, name="made-by-a-clone"), what="the clone")
        assert api_vm(admin_client, vcenter, made)["name"] == "made-by-a-clone"

        wait_for_tasks(si, [vm.Destroy_Task()])
        eventually(lambda: not m.VirtualMachine.objects.filter(vcenter=vcenter, moid=moid).exists(), what="the destroy")
        assert api_vm(admin_client, vcenter, moid) is None

        # The counter is written just after the rows it counts: wait for it, then check nothing was a full sync.
        eventually(lambda: m.InventoryWatch.objects.get(pk=vcenter.pk).updates_applied >= 5, what="the update count")
        assert m.InventoryWatch.objects.get(pk=vcenter.pk).full_syncs == 1  # one full sync, then only updates
        assert admin_client.get(f"/api/v1/vcenters/{vcenter.pk}/inventory/live/").json()["is_live"] is True


def test_a_host_entering_maintenance_mode_appears_within_seconds(small, si, fast):
    _, vcenter = small
    host = next(r["_obj"] for r in collect(si, vim.HostSystem, ["name"]) if r["name"] == "esx-compb-01.vio.local")
    with watching(vcenter.pk):
        live(vcenter)
        wait_for_tasks(si, [host.EnterMaintenanceMode_Task(timeout=0)])
        eventually(lambda: m.Host.objects.filter(vcenter=vcenter, moid=host._moId, in_maintenance_mode=True).exists(),
                   what="maintenance mode in the picture")
        wait_for_tasks(si, [host.ExitMaintenanceMode_Task(timeout=0)])
        eventually(lambda: m.Host.objects.filter(vcenter=vcenter, moid=host._moId, in_maintenance_mode=False).exists(),
                   what="maintenance mode ended in the picture")


def test_a_deleted_rule_disappears_within_seconds(small, si, fast):
    _, vcenter = small
    cluster = next(r["_obj"] for r in collect(si, vim.ClusterComputeResource, ["name"]) if r["name"] == "Management")
    vms = [r["_obj"] for r in collect(si, vim.VirtualMachine, ["name"], root=cluster)][:2]
    rule = vim.cluster.AntiAffinityRuleSpec(name="vio-test-apart", enabled=True, vm=vms)
    wait_for_tasks(si, [cluster.ReconfigureComputeResource_Task(
        vim.cluster.ConfigSpecEx(rulesSpec=[vim.cluster.RuleSpec(operation="add", info=rule)]), True)])
    with watching(vcenter.pk):
        live(vcenter)
        rules = m.Cluster.objects.get(vcenter=vcenter, moid=cluster._moId).rules
        stored = next(r for r in rules if r["name"] == "vio-test-apart")  # the full sync read it
        assert stored["type"] == "anti-affinity" and sorted(stored["vm_moids"]) == sorted(v._moId for v in vms)
        wait_for_tasks(si, [cluster.ReconfigureComputeResource_Task(
            vim.cluster.ConfigSpecEx(rulesSpec=[vim.cluster.RuleSpec(operation="remove", removeKey=stored["key"])]), True)])
        eventually(lambda: not [r for r in m.Cluster.objects.get(vcenter=vcenter, moid=cluster._moId).rules
                                if r["name"] == "vio-test-apart"], what="the rule gone from the picture")


# --- gaps: a full sync, then live again ----------------------------------------------------------

def test_an_expired_session_brings_a_full_sync_then_the_picture_is_live_again(small, si, fast):
    handle, vcenter = small
    with watching(vcenter.pk):
        live(vcenter)
        # vCenter ends the watcher's session: its next long poll is refused as NotAuthenticated.
        # (Nothing else here waits for updates: the fault is the watcher's.)
        row = powered_on_vm(si)
        handle.inject(method="WaitForUpdatesEx", fault="NotAuthenticated", count=1)
        row["_obj"].PowerOffVM_Task()  # the simulator's tasks end before they answer: no wait (no WaitForUpdatesEx)
        watch = live(vcenter, after_full_syncs=1)
        assert "session" in watch.last_gap or "NotAuthenticated" in watch.last_gap, watch.last_gap
        eventually(lambda: vm_row(vcenter, moid=row["_obj"]._moId, power_state="poweredOff"), what="the change in the gap")
        assert m.SyncRecord.objects.filter(vcenter=vcenter, ok=True, counts__by="watcher").count() == 2
    handle.clear_faults()


def test_a_simulator_restart_brings_a_full_sync_then_the_picture_is_live_again(vcsim_factory, fast, tmp_path, free_port):
    certificate = ["-cert", str(tmp_path / "vc.pem"), "-key", str(tmp_path / "vc.key"), "-listen", f"127.0.0.1:{free_port}"]
    first = vcsim_factory("-vms", "4", *certificate)
    vcenter = registered_vcenter(first)
    si = first.connect()
    doomed = powered_on_vm(si)["_obj"]
    wait_for_tasks(si, [doomed.PowerOffVM_Task(), ])
    wait_for_tasks(si, [doomed.Destroy_Task()])
    disconnect(si)
    with watching(vcenter.pk):
        live(vcenter)
        assert not m.VirtualMachine.objects.filter(vcenter=vcenter, moid=doomed._moId).exists()
        stopping = time.monotonic()
        first.running.stop()
        print(f"the simulator stopped in {time.monotonic() - stopping:.1f} s")
        eventually(lambda: not m.InventoryWatch.objects.get(pk=vcenter.pk).is_live, 10, "not live once vCenter is gone")
        eventually(lambda: m.InventoryWatch.objects.get(pk=vcenter.pk).state == m.WatchState.RECOVERING, 15,
                   "the watcher recovering")
        second = vcsim_factory("-vms", "4", *certificate)  # the same address and certificate, a fresh inventory
        assert second.fingerprint == first.fingerprint
        live(vcenter, after_full_syncs=1)
        # The fresh simulator has the VM the first one lost: the full sync after the gap brought it back.
        assert m.VirtualMachine.objects.filter(vcenter=vcenter, moid=doomed._moId).exists()


# --- leases: fenced writes, one holder --------------------------------------------------------

def test_a_watcher_whose_lease_was_taken_over_writes_nothing(synced_vcenter, fast):
    vcenter = synced_vcenter
    old = lease.acquire(vcenter.pk, "old-holder")
    assert old is not None and lease.acquire(vcenter.pk, "another") is None  # held: nobody else gets it
    m.InventoryWatch.objects.filter(pk=vcenter.pk).update(expires_at=m.InventoryWatch.objects.get(pk=vcenter.pk).acquired_at)
    new = lease.acquire(vcenter.pk, "new-holder")  # expired: taken over, the token rises
    assert new == old + 1
    assert not lease.renew(vcenter.pk, "old-holder", old) and lease.renew(vcenter.pk, "new-holder", new)
    vm = m.VirtualMachine.objects.filter(vcenter=vcenter).first()
    generation = m.Datacenter.objects.get(vcenter=vcenter).generation
    row = {"name": "stale-write", "datacenter": vm.datacenter.moid, "host": "", "cluster": "", "resource_pool": "",
           "folder": "", "power_state": "poweredOff", "connection_state": "connected", "tools_running_status": "",
           "ip_address": "", "ip_addresses": [], "deployment_id": "", "role": "", "custom_values": {}, "template": False,
           "cpu_count": 1, "memory_mb": 1}
    with pytest.raises(lease.LeaseLost):
        snapshot_store.store_vm_changes(vcenter, {vm.moid: row}, [], fence=lease.fence(vcenter.pk, "old-holder", old))
    vm.refresh_from_db()
    assert vm.name != "stale-write" and m.Datacenter.objects.get(vcenter=vcenter).generation == generation
    snapshot_store.store_vm_changes(vcenter, {vm.moid: row}, [], fence=lease.fence(vcenter.pk, "new-holder", new))
    vm.refresh_from_db()
    assert vm.name == "stale-write" and m.Datacenter.objects.get(vcenter=vcenter).generation == generation + 1


def test_concurrent_takers_get_one_lease(synced_vcenter, fast):
    vcenter, tokens, barrier = synced_vcenter, {}, threading.Barrier(6)

    def take(name):
        from django.db import connection

        barrier.wait()
        tokens[name] = lease.acquire(vcenter.pk, name)
        connection.close()

    threads = [threading.Thread(target=take, args=(f"taker-{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [name for name, token in tokens.items() if token is not None]
    assert len(winners) == 1, tokens
    assert m.InventoryWatch.objects.get(pk=vcenter.pk).holder == winners[0]


def test_a_sync_from_a_worker_never_writes_over_a_watcher(synced_vcenter, fast):
    """While a watcher holds the lease, a Celery sync writes nothing (it asks the live watcher for a
    full sync instead, or finds itself overtaken)."""
    from inventory.services import sync

    vcenter = synced_vcenter
    token = lease.acquire(vcenter.pk, "a-watcher")
    lease.update(vcenter.pk, "a-watcher", token, state=m.WatchState.LIVE)
    lease.renew(vcenter.pk, "a-watcher", token, confirmed_at=m.InventoryWatch.objects.get(pk=vcenter.pk).acquired_at)
    generation = m.Datacenter.objects.get(vcenter=vcenter).generation
    record = sync.sync_vcenter(vcenter.pk)
    assert record.ok and record.counts == {"by": "watcher (asked)"}
    assert m.InventoryWatch.objects.get(pk=vcenter.pk).resync_requested_at is not None
    assert m.Datacenter.objects.get(vcenter=vcenter).generation == generation  # nothing written


# --- readers see whole changes -------------------------------------------------------------------

def test_every_watcher_write_raises_the_generation_in_its_transaction(small, si, fast):
    _, vcenter = small
    generations = []
    original = snapshot_store.raise_generation

    def recording(vc):
        from django.db import connection

        assert connection.in_atomic_block  # inside the write's own transaction
        generations.append(vc.pk)
        original(vc)

    snapshot_store.raise_generation = recording
    try:
        with watching(vcenter.pk):
            live(vcenter)
            before = m.Datacenter.objects.get(vcenter=vcenter).generation
            row = powered_on_vm(si)
            wait_for_tasks(si, [row["_obj"].PowerOffVM_Task()])
            eventually(lambda: vm_row(vcenter, moid=row["_obj"]._moId, power_state="poweredOff"))
            assert m.Datacenter.objects.get(vcenter=vcenter).generation > before
    finally:
        snapshot_store.raise_generation = original
    assert len(generations) >= 2  # the watcher's full sync, then the update


def test_a_page_of_vms_never_sees_half_of_a_watcher_update(small, fast, admin_client, monkeypatch):
    """A watcher's change commits after the API counted the VMs and before it read the page: the
    answer is the picture before the change, whole (its count and its rows agree)."""
    from inventory.api import views

    _, vcenter = small
    vms = list(m.VirtualMachine.objects.filter(vcenter=vcenter, template=False).order_by("name"))
    gone, renamed = [vm.moid for vm in vms[:2]], vms[2]
    row = {"name": "renamed-meanwhile", "datacenter": renamed.datacenter.moid, "host": renamed.host_moid,
           "cluster": renamed.cluster_moid, "resource_pool": "", "folder": "", "power_state": "poweredOn",
           "connection_state": "connected", "tools_running_status": "", "ip_address": "", "ip_addresses": [],
           "deployment_id": "", "role": "", "custom_values": {}, "template": False, "cpu_count": 1, "memory_mb": 1}
    token = lease.acquire(vcenter.pk, "the-watcher")
    original, commits = views.VmPagination.get_count, []

    def count_then_commit(self, queryset):
        counted = original(self, queryset)
        writer = threading.Thread(target=lambda: (snapshot_store.store_vm_changes(
            vcenter, {renamed.moid: row}, gone, fence=lease.fence(vcenter.pk, "the-watcher", token)), commits.append(1),
            __import__("django.db").db.connection.close()))
        writer.start()
        writer.join(30)
        return counted

    monkeypatch.setattr(views.VmPagination, "get_count", count_then_commit)
    body = admin_client.get(f"/api/v1/vcenters/{vcenter.pk}/inventory/vms/", {"limit": 500}).json()
    assert commits == [1]  # the change did commit in the middle of the read
    names = {vm["name"] for vm in body["results"]}
    assert body["count"] == len(body["results"]) == 9  # all of the old picture
    assert "renamed-meanwhile" not in names and set(gone) <= {vm["moid"] for vm in body["results"]}
    monkeypatch.setattr(views.VmPagination, "get_count", original)
    body = admin_client.get(f"/api/v1/vcenters/{vcenter.pk}/inventory/vms/", {"limit": 500}).json()
    assert body["count"] == len(body["results"]) == 7 and "renamed-meanwhile" in {vm["name"] for vm in body["results"]}


# --- what a real vCenter sends and the simulator does not ------------------------------------

UPDATE_SET = b"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<soapenv:Body><WaitForUpdatesExResponse xmlns="urn:vim25"><returnval>
<version>1_42</version>
<filterSet><filter type="PropertyFilter">session[1]2</filter>
<objectSet><kind>enter</kind><obj type="VirtualMachine">vm-9</obj>
  <changeSet><name>name</name><op>assign</op><val xsi:type="xsd:string">new-vm</val></changeSet>
  <changeSet><name>runtime.powerState</name><op>assign</op><val xsi:type="VirtualMachinePowerState">poweredOn</val></changeSet>
  <changeSet><name>config.extraConfig</name><op>assign</op><val xsi:type="ArrayOfOptionValue">
    <OptionValue xsi:type="OptionValue"><key>vio-manager.deployment</key><value xsi:type="xsd:string">7</value></OptionValue>
    <OptionValue xsi:type="OptionValue"><key>guestinfo.other</key><value xsi:type="xsd:string">x</value></OptionValue></val></changeSet>
</objectSet>
<objectSet><kind>modify</kind><obj type="HostSystem">host-1</obj>
  <changeSet><name>summary.quickStats.overallCpuUsage</name><op>assign</op><val xsi:type="xsd:int">77</val></changeSet>
  <changeSet><name>config.network.portgroup["key-vim.host.PortGroup-Trunk"]</name><op>add</op><val xsi:type="HostPortGroup"><key>key-vim.host.PortGroup-Trunk</key></val></changeSet>
</objectSet>
<objectSet><kind>modify</kind><obj type="VirtualMachine">vm-9</obj>
  <changeSet><name>guest.ipAddress</name><op>remove</op></changeSet>
</objectSet>
<objectSet><kind>leave</kind><obj type="VirtualMachine">vm-3</obj></objectSet>
</filterSet>
<truncated>true</truncated>
</returnval></WaitForUpdatesExResponse></soapenv:Body></soapenv:Envelope>"""


def test_an_update_set_is_read_as_vcenter_writes_it(monkeypatch):
    """Truncated answers, changes below a watched property (read again), unset properties, leaves."""
    import io

    from inventory.clients import fastcollect
    from inventory.clients.vsphere_watch import Changes, Mirror

    monkeypatch.setattr(fastcollect, "_invoke_streamed", lambda collector, method, args, parse: parse(io.BytesIO(UPDATE_SET)))
    mirror, changed, seen = Mirror(), Changes(), []
    mirror.vms["vm-3"] = {"name": "old"}
    mirror.vms["vm-9"] = {}
    mirror.objects["host-1"] = ("HostSystem", {"name": "esx-1"})

    def on_update(kind, obj_type, moid, changes):
        seen.append((kind, moid, [name for name, _, _ in changes]))
        mirror.apply(kind, obj_type, moid, changes, changed)

    assert fastcollect.wait_for_updates(None, "1_41", 5, on_update) == ("1_42", True)
    assert [s[:2] for s in seen] == [("enter", "vm-9"), ("modify", "host-1"), ("modify", "vm-9"), ("leave", "vm-3")]
    assert mirror.vms["vm-9"] == {"name": "new-vm", "runtime.powerState": "poweredOn",
                                  "config.extraConfig": {"vio-manager.deployment": "7"}}  # only our tags kept
    assert changed.reread == {("HostSystem", "host-1")}  # an array element's path: the host is read again
    assert mirror.objects["host-1"][1]["summary.quickStats.overallCpuUsage"] == 77  # a watched path: applied
    assert changed.vms == {"vm-9"} and changed.vms_gone == {"vm-3"} and "vm-3" not in mirror.vms and changed.others
