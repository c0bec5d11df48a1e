"""The vCenter simulator: a VIO-shaped inventory, pinned TLS, exact credentials, faults and delays."""

import ssl
import time

import pytest
from pyVmomi import vim, vmodl

from inventory.clients.errors import CertificateChanged, InvalidCredentials
from inventory.clients.tls import context_trusting, fetch_certificate
from inventory.clients.vsphere import collect, disconnect, wait_for_tasks


def test_login_verifies_the_pinned_certificate(vcsim, vcenter_si):
    about = vcenter_si.content.about
    assert about.apiType == "VirtualCenter"
    presented = fetch_certificate(vcsim.host, vcsim.port)
    assert presented.sha256 == vcsim.fingerprint
    key = presented.der  # a 2048-bit RSA key, which OpenSSL's default security level accepts
    from cryptography import x509

    assert x509.load_der_x509_certificate(key).public_key().key_size == 2048


def test_wrong_fingerprint_is_refused_before_any_credentials_are_sent(vcsim):
    wrong = ":".join(["AB"] * 32)
    with pytest.raises(CertificateChanged) as caught:
        vcsim.connect(fingerprint=wrong)
    assert caught.value.presented == vcsim.fingerprint
    assert "changed" in str(caught.value) and vcsim.password not in str(caught.value)


def test_a_different_server_fails_the_tls_handshake_itself(vcsim, vcsim_factory):
    """Pinning is enforced by TLS, not only by our comparison: another simulator's certificate
    (same host, same names) fails verification against the pinned one."""
    other = vcsim_factory()
    assert other.fingerprint != vcsim.fingerprint
    pinned = context_trusting(fetch_certificate(vcsim.host, vcsim.port).der)
    import socket

    with socket.create_connection((other.host, other.port), timeout=5) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            pinned.wrap_socket(raw, server_hostname=other.host)
    with pytest.raises(CertificateChanged):
        other.connect(fingerprint=vcsim.fingerprint)


@pytest.mark.parametrize("username,password", [("administrator@vsphere.local", "wrong-password"), ("root", "VMware1!")])
def test_wrong_credentials_are_rejected(vcsim, username, password):
    with pytest.raises(InvalidCredentials) as caught:
        vcsim.connect(username=username, password=password)
    assert password not in str(caught.value)


def test_inventory_has_the_vio_shape(vcenter_si):
    clusters = {row["name"]: row for row in collect(vcenter_si, vim.ClusterComputeResource, ["name", "host", "summary"])}
    assert {name: len(row["host"]) for name, row in clusters.items()} == {
        "Management": 3, "Edge": 2, "Compute-A": 4, "Compute-B": 2,
    }
    management = clusters["Management"]["summary"]
    assert management.numCpuCores == 3 * 24 and management.totalMemory == 3 * 256 * 2**30

    hosts = {row["_obj"]._moId: row for row in collect(vcenter_si, vim.HostSystem, ["name", "datastore", "parent"])}
    datastores = {row["name"]: row for row in collect(vcenter_si, vim.Datastore, ["name", "summary", "host"])}
    mounted_on = {name: {m.key._moId for m in row["host"]} for name, row in datastores.items()}
    assert mounted_on["vio-shared-nfs"] == set(hosts)
    compute_hosts = {m._moId for name in ("Compute-A", "Compute-B") for m in clusters[name]["host"]}
    assert mounted_on["vio-compute-nfs"] == compute_hosts
    locals_ = {name for name, row in datastores.items() if row["summary"].type == "VMFS"}
    assert len(locals_) == len(hosts) and all(len(mounted_on[name]) == 1 for name in locals_)
    # Every host lists the datastores it mounts, as vCenter does.
    for moid, row in hosts.items():
        assert {ds.name for ds in row["datastore"]} >= {"vio-shared-nfs"}

    portgroups = {row["name"]: row for row in collect(vcenter_si, vim.dvs.DistributedVirtualPortgroup, ["name", "config"])}
    vlan = {name: row["config"].defaultPortConfig.vlan for name, row in portgroups.items() if not name.endswith("DVUplinks")}
    assert vlan["VIO-Management"].vlanId == 100
    assert vlan["VIO-External"].vlanId == 200
    trunk = vlan["VIO-Data-Trunk"].vlanId
    assert [(r.start, r.end) for r in trunk] == [(0, 4094)]
    switches = collect(vcenter_si, vim.DistributedVirtualSwitch, ["name", "summary"])
    assert [s["name"] for s in switches] == ["VIO-DSwitch"] and len(switches[0]["summary"].hostMember) == len(hosts)
    assert "VM Network" in {row["name"] for row in collect(vcenter_si, vim.Network, ["name"])}


def _template_and_pool(si):
    template = next(r["_obj"] for r in collect(si, vim.VirtualMachine, ["name", "config.template"]) if r.get("config.template"))
    pool = next(r["_obj"] for r in collect(si, vim.ClusterComputeResource, ["name", "resourcePool"]) if r["name"] == "Management").resourcePool
    return template, pool


def _clone(si, template, pool, name):
    spec = vim.vm.CloneSpec(location=vim.vm.RelocateSpec(pool=pool), powerOn=False, template=False)
    return template.CloneVM_Task(folder=template.parent, name=name, spec=spec)


def test_fault_endpoint_makes_the_next_matching_clone_fail(vcsim, vcenter_si):
    template, pool = _template_and_pool(vcenter_si)
    vcsim.inject(method="CloneVM_Task", match="fail-", fault="InsufficientResourcesFault", count=1)

    failing = _clone(vcenter_si, template, pool, "fail-db01")
    passing = _clone(vcenter_si, template, pool, "ok-db02")
    state = wait_for_tasks(vcenter_si, [failing, passing], timeout=30)

    assert state[failing._moId]["info.state"] == "error"
    assert isinstance(state[failing._moId]["info.error"], vim.fault.InsufficientResourcesFault)
    assert state[passing._moId]["info.state"] == "success"
    # The rule was used up: the same name now clones.
    again = _clone(vcenter_si, template, pool, "fail-db01")
    assert wait_for_tasks(vcenter_si, [again], timeout=30)[again._moId]["info.state"] == "success"


def test_fault_endpoint_returns_a_soap_fault_for_a_plain_call(vcsim, vcenter_si):
    vcsim.inject(method="CurrentTime", fault="InvalidState", message="injected for the test", count=1)
    with pytest.raises(vim.fault.InvalidState):
        vcenter_si.CurrentTime()
    assert vcenter_si.CurrentTime() is not None


def test_an_expired_session_logs_in_again(vcsim, vcenter_si):
    """NotAuthenticated (what vCenter answers for an expired session) makes the client log in
    again and repeat the call, instead of failing the sync or step that made it."""
    vcsim.inject(method="CurrentTime", fault="NotAuthenticated", count=1)
    assert vcenter_si.CurrentTime() is not None
    status, rules = vcsim.control("GET")
    assert status == 200 and "NotAuthenticated" not in rules  # the fault was served, then used up


def test_a_session_that_expired_on_the_server_logs_in_again(vcsim_factory):
    fresh = vcsim_factory("-session-idle", "1s")
    si = fresh.connect()
    try:
        time.sleep(2.5)  # the simulator expires sessions idle for more than a second
        assert si.CurrentTime() is not None
    finally:
        disconnect(si)


def test_delay_leaves_the_task_running_for_about_the_time_asked(vcsim, vcenter_si):
    template, pool = _template_and_pool(vcenter_si)
    vcsim.inject(method="CloneVM_Task", delay=2000, count=1)

    started = time.monotonic()
    task = _clone(vcenter_si, template, pool, "delayed-ctl01")
    assert task.info.state == "running"
    time.sleep(1.0)
    assert task.info.state == "running"
    state = wait_for_tasks(vcenter_si, [task], timeout=30)
    elapsed = time.monotonic() - started

    assert state[task._moId]["info.state"] == "success"
    assert state[task._moId]["info.result"].name == "delayed-ctl01"  # the real clone ran
    assert 1.9 <= elapsed < 6.0


def test_delayed_task_carries_the_real_calls_failure(vcsim, vcenter_si):
    """A delayed call that vCenter refuses ends the proxy task in that same fault."""
    vm = _clone(vcenter_si, *_template_and_pool(vcenter_si), "powered-twice")
    vm = wait_for_tasks(vcenter_si, [vm])[vm._moId]["info.result"]
    wait_for_tasks(vcenter_si, [vm.PowerOnVM_Task()])
    vcsim.inject(method="PowerOnVM_Task", delay=300, count=1)
    task = vm.PowerOnVM_Task()
    state = wait_for_tasks(vcenter_si, [task], timeout=30)[task._moId]
    assert state["info.state"] == "error" and isinstance(state["info.error"], vim.fault.InvalidPowerState)


def test_fresh_simulator_with_startup_delay_and_clean_stop(vcsim_factory):
    fresh = vcsim_factory("-task-delay", "PowerOnVM_Task=800")
    si = fresh.connect()
    try:
        names = {r["name"] for r in collect(si, vim.VirtualMachine, ["name"])}
        assert names == {"ubuntu-16.04-vio-template"}  # a clean inventory: nothing from other tests
        template, pool = _template_and_pool(si)
        clone = _clone(si, template, pool, "fresh-01")
        vm = wait_for_tasks(si, [clone])[clone._moId]["info.result"]
        task = vm.PowerOnVM_Task()
        assert task.info.state == "running"
        assert wait_for_tasks(si, [task], timeout=10)[task._moId]["info.state"] == "success"
        # DELETE clears injected rules but keeps the delays the simulator was started with.
        fresh.clear_faults()
        wait_for_tasks(si, [vm.PowerOffVM_Task()])
        again = vm.PowerOnVM_Task()
        assert again.info.state == "running"
        wait_for_tasks(si, [again], timeout=10)
    finally:
        disconnect(si)
    assert fresh.running.stop() == 0


def test_control_endpoint_rejects_bad_rules(vcsim):
    assert vcsim.control("POST", method="CloneVM_Task", fault="NoSuchFault")[0] == 400
    assert vcsim.control("POST", method="CloneVM_Task")[0] == 400
    assert vcsim.control("POST", method="CurrentTime", delay="soon")[0] == 400


def test_a_plain_call_can_be_slowed_down(vcsim, vcenter_si):
    vcsim.inject(method="CurrentTime", delay=700, count=1)
    started = time.monotonic()
    assert vcenter_si.CurrentTime() is not None
    assert time.monotonic() - started >= 0.65


# --- WaitForUpdatesEx: incremental answers (simulators/vcsim/collector.go) -------------------

PC = vmodl.query.PropertyCollector


def _vm_view_collector(si, paths=("name", "runtime.powerState")):
    """A private collector with one filter over every VM, through a ContainerView (as the inventory
    watcher makes it)."""
    content = si.content
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    collector = content.propertyCollector.CreatePropertyCollector()
    collector.CreateFilter(PC.FilterSpec(
        objectSet=[PC.ObjectSpec(obj=view, skip=True, selectSet=[PC.TraversalSpec(name="view", path="view", skip=False, type=vim.view.ContainerView)])],
        propSet=[PC.PropertySpec(type=vim.VirtualMachine, pathSet=list(paths))]), partialUpdates=False)
    return collector


def _objects(update) -> list:
    return [(o.kind, o.obj._moId, {c.name: c.val for c in o.changeSet}) for fs in update.filterSet for o in fs.objectSet]


def test_wait_for_updates_sends_only_what_changed(vcsim_factory):
    fresh = vcsim_factory()
    actor, watcher = fresh.connect(), fresh.connect()
    try:
        template, pool = _template_and_pool(actor)
        vm = wait_for_tasks(actor, [_clone(actor, template, pool, "watched-01")])
        vm = next(iter(vm.values()))["info.result"]
        wait_for_tasks(actor, [vm.PowerOnVM_Task()])
        collector = _vm_view_collector(watcher)
        first = collector.WaitForUpdatesEx("", PC.WaitOptions(maxWaitSeconds=10))
        initial = {moid: props for _, moid, props in _objects(first)}
        assert initial[vm._moId] == {"name": "watched-01", "runtime.powerState": "poweredOn"}
        assert all(kind == "enter" for kind, _, _ in _objects(first))

        # Nothing changes: the wait ends empty when maxWaitSeconds runs out.
        started = time.monotonic()
        assert collector.WaitForUpdatesEx(first.version, PC.WaitOptions(maxWaitSeconds=1)) is None
        assert time.monotonic() - started < 3

        started = time.monotonic()
        wait_for_tasks(actor, [vm.PowerOffVM_Task()])
        update = collector.WaitForUpdatesEx(first.version, PC.WaitOptions(maxWaitSeconds=10))
        assert time.monotonic() - started < 2
        assert _objects(update) == [("modify", vm._moId, {"runtime.powerState": "poweredOff"})]  # not the name
        assert int(update.version) > int(first.version)

        clone = next(iter(wait_for_tasks(actor, [_clone(actor, template, pool, "watched-02")]).values()))["info.result"]
        update2 = collector.WaitForUpdatesEx(update.version, PC.WaitOptions(maxWaitSeconds=10))
        assert _objects(update2) == [("enter", clone._moId, {"name": "watched-02", "runtime.powerState": "poweredOff"})]
        wait_for_tasks(actor, [clone.Destroy_Task()])
        update3 = collector.WaitForUpdatesEx(update2.version, PC.WaitOptions(maxWaitSeconds=10))
        assert _objects(update3) == [("leave", clone._moId, {})]

        # A version this collector never gave is refused, as vCenter does.
        for bogus in ("bogus", str(int(update3.version) + 100)):
            with pytest.raises(vmodl.query.InvalidCollectorVersion):
                collector.WaitForUpdatesEx(bogus, PC.WaitOptions(maxWaitSeconds=1))
        collector.DestroyPropertyCollector()
    finally:
        disconnect(actor)
        disconnect(watcher)


def test_wait_for_updates_truncates_at_max_object_updates(vcsim_factory):
    fresh = vcsim_factory("-clusters", "1", "-hosts", "2", "-vms", "7")
    si = fresh.connect()
    try:
        collector = _vm_view_collector(si)
        version, seen, answers = "", set(), 0
        while True:
            update = collector.WaitForUpdatesEx(version, PC.WaitOptions(maxWaitSeconds=5, maxObjectUpdates=3))
            answers += 1
            objects = _objects(update)
            assert len(objects) <= 3
            seen.update(moid for _, moid, _ in objects)
            version = update.version
            if not update.truncated:
                break
        assert len(seen) == 8 and answers == 3  # 7 VMs and the template, 3 + 3 + 2
    finally:
        disconnect(si)


def test_two_sessions_waiting_on_the_default_collector_both_hear_a_change(vcsim_factory):
    """govmomi's collector registered each waiting collector under its id: two sessions waiting on
    the default PropertyCollector replaced each other, and the first heard nothing more."""
    fresh = vcsim_factory()
    sessions = [fresh.connect(), fresh.connect()]
    try:
        template, pool = _template_and_pool(sessions[0])
        versions = []
        for si in sessions:
            vm = si.content.searchIndex.FindByInventoryPath("VIO-Datacenter/vm/ubuntu-16.04-vio-template")
            si.content.propertyCollector.CreateFilter(PC.FilterSpec(objectSet=[PC.ObjectSpec(obj=vm)],
                                                                   propSet=[PC.PropertySpec(type=vim.VirtualMachine, pathSet=["name"])]), False)
            versions.append(si.content.propertyCollector.WaitForUpdatesEx("", PC.WaitOptions(maxWaitSeconds=5)).version)
        template.Rename_Task("ubuntu-16.04-vio-template-renamed")
        for si, version in zip(sessions, versions):
            update = si.content.propertyCollector.WaitForUpdatesEx(version, PC.WaitOptions(maxWaitSeconds=10))
            assert update is not None and _objects(update)[0][2] == {"name": "ubuntu-16.04-vio-template-renamed"}
    finally:
        for si in sessions:
            disconnect(si)


def test_cancel_wait_for_updates_ends_the_wait(vcsim_factory):
    import threading

    fresh = vcsim_factory()
    si = fresh.connect()
    try:
        collector = _vm_view_collector(si)
        first = collector.WaitForUpdatesEx("", PC.WaitOptions(maxWaitSeconds=5))
        caught = {}

        def wait():
            try:
                collector.WaitForUpdatesEx(first.version, PC.WaitOptions(maxWaitSeconds=30))
            except vmodl.fault.RequestCanceled as fault:
                caught["fault"] = fault

        waiter = threading.Thread(target=wait)
        started = time.monotonic()
        waiter.start()
        time.sleep(0.5)
        collector.CancelWaitForUpdates()
        waiter.join(10)
        assert isinstance(caught.get("fault"), vmodl.fault.RequestCanceled) and time.monotonic() - started < 5
    finally:
        disconnect(si)
