"""The idempotent bring-up actions against a fresh vCenter simulator (one for this module)."""

import time
import uuid

import pytest
from pyVmomi import vim

from inventory.clients import vsphere_build as build
from inventory.clients.vsphere import TaskGone, WaitTimeout, collect, disconnect, task_outcome, wait_for_tasks
from simulators.launcher import start_vcsim
from tests.conftest import VcsimHandle

TEMPLATE = "ubuntu-16.04-vio-template"


@pytest.fixture(scope="module")
def sim():
    running = start_vcsim()
    yield VcsimHandle(running)
    running.stop()


@pytest.fixture(scope="module")
def si(sim):
    si = sim.connect()
    yield si
    disconnect(si)


@pytest.fixture(autouse=True)
def _clear_faults(sim):
    yield
    sim.clear_faults()


def _moid(si, kind, name):
    rows = [r for r in collect(si, kind, ["name"]) if r.get("name") == name]
    assert len(rows) == 1, f"{name}: {len(rows)} found"
    return rows[0]["_obj"]._moId


@pytest.fixture(scope="module")
def place(si):
    """Where the tests build: a folder, a pool, the shared datastore, the template."""
    dc = _moid(si, vim.Datacenter, "VIO-Datacenter")
    cluster = _moid(si, vim.ClusterComputeResource, "Management")
    return {
        "dc": dc,
        "cluster": cluster,
        "folder": build.ensure_folder(si, dc, "vio-build-tests"),
        "pool": build.ensure_resource_pool(si, cluster, "vio-build-tests"),
        "datastore": _moid(si, vim.Datastore, "vio-shared-nfs"),
        "template": _moid(si, vim.VirtualMachine, TEMPLATE),
        "network": _moid(si, vim.Network, "VIO-Management"),
    }


def _clone(si, place, name, deployment, role="controller", **kwargs):
    return build.clone_vm(si, template_moid=place["template"], name=name, folder_moid=place["folder"],
                          pool_moid=place["pool"], datastore_moid=place["datastore"], deployment_id=deployment,
                          role=role, timeout=60, network_moid=place["network"], **kwargs)


def _vm_rows(si, name):
    return [r for r in collect(si, vim.VirtualMachine, ["name", "config.extraConfig", "parent", "resourcePool",
                                                        "datastore", "config.template", "runtime.powerState"])
            if r.get("name") == name]


def _deployment():
    return f"dep-{uuid.uuid4().hex[:8]}"


# --- folders and pools ------------------------------------------------------------------------------


def test_folder_is_created_once_and_adopted(si, place):
    first = build.ensure_folder(si, place["dc"], "vio-folder-a")
    again = build.ensure_folder(si, place["dc"], "vio-folder-a")
    assert first == again
    rows = [r for r in collect(si, vim.Folder, ["name", "parent"]) if r.get("name") == "vio-folder-a"]
    assert len(rows) == 1
    vm_folder = collect(si, vim.Datacenter, ["vmFolder"])[0]["vmFolder"]
    assert rows[0]["parent"]._moId == vm_folder._moId


def test_folder_made_meanwhile_is_adopted_on_duplicate_name(si, place, monkeypatch):
    vm_folder = collect(si, vim.Datacenter, ["vmFolder"])[0]["vmFolder"]
    made = vm_folder.CreateFolder("vio-folder-race")._moId
    real = build._child_by_name
    calls = []

    def blind_first(*args):  # the first look misses it, as if it were created right after
        calls.append(args)
        return None if len(calls) == 1 else real(*args)

    monkeypatch.setattr(build, "_child_by_name", blind_first)
    assert build.ensure_folder(si, place["dc"], "vio-folder-race") == made


def test_resource_pool_is_created_once_and_adopted(si, place):
    first = build.ensure_resource_pool(si, place["cluster"], "vio-pool-a")
    assert build.ensure_resource_pool(si, place["cluster"], "vio-pool-a") == first
    rows = [r for r in collect(si, vim.ResourcePool, ["name", "parent"]) if r.get("name") == "vio-pool-a"]
    assert len(rows) == 1
    root = collect(si, vim.ClusterComputeResource, ["name", "resourcePool"])
    root = next(r["resourcePool"] for r in root if r["name"] == "Management")
    assert rows[0]["parent"]._moId == root._moId


def test_remove_folder_if_empty(si, place):
    folder = build.ensure_folder(si, place["dc"], "vio-folder-empty")
    assert build.remove_folder_if_empty(si, folder) is True
    assert not [r for r in collect(si, vim.Folder, ["name"]) if r.get("name") == "vio-folder-empty"]
    assert build.remove_folder_if_empty(si, folder) is True  # already gone
    # a folder that holds a VM stays
    deployment = _deployment()
    holder = build.ensure_folder(si, place["dc"], "vio-folder-full")
    build.clone_vm(si, template_moid=place["template"], name="vio-in-folder", folder_moid=holder,
                   pool_moid=place["pool"], datastore_moid=place["datastore"], deployment_id=deployment,
                   role="x", timeout=60)
    assert build.remove_folder_if_empty(si, holder) is False
    build.destroy_deployment_vms(si, deployment)
    assert build.remove_folder_if_empty(si, holder) is True


# --- clones -----------------------------------------------------------------------------------------


def test_clone_is_tagged_placed_and_adopted(si, place):
    deployment = _deployment()
    assert build.find_vm(si, deployment, "vio-ctl-01") is None
    moid = _clone(si, place, "vio-ctl-01", deployment)
    assert build.find_vm(si, deployment, "vio-ctl-01") == moid
    assert build.find_vm(si, "someone-else", "vio-ctl-01") is None
    assert _clone(si, place, "vio-ctl-01", deployment) == moid
    rows = _vm_rows(si, "vio-ctl-01")
    assert len(rows) == 1
    row = rows[0]
    tags = {o.key: o.value for o in row["config.extraConfig"]}
    assert tags[build.DEPLOYMENT_KEY] == deployment and tags[build.ROLE_KEY] == "controller"
    assert build.SIMULATED_TOOLS_KEY not in tags
    assert row["parent"]._moId == place["folder"]
    assert row["resourcePool"]._moId == place["pool"]
    assert [ds._moId for ds in row["datastore"]] == [place["datastore"]]
    assert row["config.template"] is False
    assert row["runtime.powerState"] == "poweredOff"
    vm = next(r for r in collect(si, vim.VirtualMachine, ["config.hardware.device", "network"])
              if r["_obj"]._moId == moid)
    nics = [d for d in vm["config.hardware.device"] if isinstance(d, vim.vm.device.VirtualEthernetCard)]
    assert len(nics) == 1  # VIO-Management is a distributed port group
    assert [n._moId for n in vm["network"]] == [place["network"]]


def test_a_clone_task_left_by_a_dead_attempt_is_followed_to_its_vm_not_repeated(si, sim, place):
    """start_clone returns at once with the task's moid; any later caller (another worker, another
    session) follows that task to the VM it made, however long it runs."""
    deployment = _deployment()
    sim.inject(method="CloneVM_Task", match="vio-orphan-01", delay=1500, count=1)
    task = build.start_clone(si, template_moid=place["template"], name="vio-orphan-01", folder_moid=place["folder"],
                             pool_moid=place["pool"], datastore_moid=place["datastore"], deployment_id=deployment,
                             role="controller")
    assert task_outcome(si, task, 0.2) is None  # still running in vCenter
    assert build.find_vm(si, deployment, "vio-orphan-01") is None

    other = sim.connect()  # the next attempt's worker: another session
    outcome = None
    while outcome is None:
        outcome = task_outcome(other, task, 5)
    assert outcome.ok and build.find_vm(si, deployment, "vio-orphan-01") == outcome.result._moId
    assert len(_vm_rows(si, "vio-orphan-01")) == 1
    with pytest.raises(TaskGone):  # a task vCenter no longer knows: the caller looks for the VM instead
        task_outcome(si, "task-999999", 1)
    assert _clone(si, place, "vio-orphan-01", deployment) == outcome.result._moId  # adopted, not repeated
    disconnect(other)


def test_clone_fault_is_a_build_error_and_leaves_no_vm(si, sim, place):
    deployment = _deployment()
    sim.inject(method="CloneVM_Task", match="fail-db01", fault="InsufficientResourcesFault", count=1)
    with pytest.raises(build.BuildError) as caught:
        _clone(si, place, "fail-db01", deployment, role="db")
    message = str(caught.value)
    assert message.startswith("Cloning VM 'fail-db01' failed: ")
    assert sim.password not in message
    assert _vm_rows(si, "fail-db01") == []
    assert build.find_vm(si, deployment, "fail-db01") is None
    # the next attempt (fault used up) succeeds
    assert _clone(si, place, "fail-db01", deployment, role="db")


def test_a_vm_left_by_a_failed_clone_is_removed(si, place, monkeypatch):
    """The simulator's injected fault never creates the VM; make the clone succeed in vCenter but fail
    for us afterwards (as a timeout or a lost answer would), and check the leftover is deleted."""
    deployment = _deployment()
    real = build.wait_task

    def fail_after_cloning(si_, task, what, timeout):
        result = real(si_, task, what, timeout)
        if what.startswith("Cloning"):
            raise build.BuildError(f"{what} failed: vCenter said nothing useful.")
        return result

    monkeypatch.setattr(build, "wait_task", fail_after_cloning)
    with pytest.raises(build.BuildError, match="vio-half-made"):
        _clone(si, place, "vio-half-made", deployment)
    assert _vm_rows(si, "vio-half-made") == []


# --- customization, power, guest --------------------------------------------------------------------

NET = dict(netmask="255.255.255.0", gateway="192.0.2.1", dns_servers=["192.0.2.53"], domain="vio.example")


def test_customize_then_power_on_sets_guest_ip_and_waits(si, place):
    deployment = _deployment()
    moid = _clone(si, place, "vio-ctl-02", deployment, simulated_tools=True)
    build.customize_vm(si, moid, hostname="ctl02", ip="192.0.2.12", **NET)
    build.customize_vm(si, moid, hostname="ctl02", ip="192.0.2.12", **NET)  # recorded: skipped
    build.power_on(si, moid)
    build.power_on(si, moid)  # already on: nothing
    # customized and on: running it again must not touch the VM (vCenter would refuse while on)
    build.customize_vm(si, moid, hostname="ctl02", ip="192.0.2.12", **NET)
    row = collect(si, vim.VirtualMachine, ["name", "guest.ipAddress", "guest.hostName", "runtime.powerState"])
    row = next(r for r in row if r["name"] == "vio-ctl-02")
    assert row["guest.ipAddress"] == "192.0.2.12"
    assert row["runtime.powerState"] == "poweredOn"
    guest = build.wait_for_guest(si, moid, "192.0.2.12", timeout=10)
    assert guest["ip"] == "192.0.2.12" and guest["tools"] == "guestToolsRunning"
    assert guest["hostname"].startswith("ctl02")


def test_customize_a_running_vm_with_a_new_ip_is_refused(si, place):
    moid = _clone(si, place, "vio-ctl-03", _deployment())
    build.power_on(si, moid)
    with pytest.raises(build.BuildError, match="powered off"):
        build.customize_vm(si, moid, hostname="ctl03", ip="192.0.2.13", **NET)


def test_wait_for_guest_times_out_when_tools_do_not_run(si, place):
    moid = _clone(si, place, "vio-ctl-04", _deployment())
    build.customize_vm(si, moid, hostname="ctl04", ip="192.0.2.14", **NET)
    build.power_on(si, moid)
    started = time.monotonic()
    with pytest.raises(WaitTimeout) as caught:
        build.wait_for_guest(si, moid, "192.0.2.14", timeout=2)
    assert time.monotonic() - started < 5
    assert isinstance(caught.value, build.BuildError)
    assert "192.0.2.14" in str(caught.value) and "guestToolsNotRunning" in str(caught.value)


def test_wait_for_guest_ends_soon_after_a_stop_request(si, place):
    import threading

    from inventory.clients.vsphere import WaitStopped

    moid = _clone(si, place, "vio-ctl-05", _deployment())  # powered off: no guest will ever report
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()
    with pytest.raises(WaitStopped):
        build.wait_for_guest(si, moid, "192.0.2.15", timeout=60, stop=stop)
    assert time.monotonic() - started < 5


def test_power_on_of_a_template_is_a_build_error(si, place):
    with pytest.raises(build.BuildError, match="Powering on"):
        build.power_on(si, place["template"])


# --- anti-affinity ----------------------------------------------------------------------------------


def _rules_named(si, cluster, name):
    rows = collect(si, vim.ClusterComputeResource, ["configurationEx"])
    config = next(r["configurationEx"] for r in rows if r["_obj"]._moId == cluster)
    return [r for r in config.rule or [] if r.name == name]


def test_anti_affinity_rule_once_edited_and_removed(si, place):
    deployment = _deployment()
    a, b, c = (_clone(si, place, f"vio-lb-0{i}", deployment, role="lb") for i in (1, 2, 3))
    build.ensure_anti_affinity(si, place["cluster"], "vio-lb-apart", [a, b])
    build.ensure_anti_affinity(si, place["cluster"], "vio-lb-apart", [b, a])
    rules = _rules_named(si, place["cluster"], "vio-lb-apart")
    assert len(rules) == 1
    assert isinstance(rules[0], vim.cluster.AntiAffinityRuleSpec)
    assert sorted(vm._moId for vm in rules[0].vm) == sorted([a, b])
    key = rules[0].key
    build.ensure_anti_affinity(si, place["cluster"], "vio-lb-apart", [a, b, c])
    rules = _rules_named(si, place["cluster"], "vio-lb-apart")
    assert len(rules) == 1 and rules[0].key == key
    assert sorted(vm._moId for vm in rules[0].vm) == sorted([a, b, c])
    assert build.remove_rule(si, place["cluster"], "vio-lb-apart") is True
    assert _rules_named(si, place["cluster"], "vio-lb-apart") == []
    assert build.remove_rule(si, place["cluster"], "vio-lb-apart") is False


# --- teardown ---------------------------------------------------------------------------------------


def test_destroy_removes_exactly_the_tagged_vms(si, place):
    deployment, other = _deployment(), _deployment()
    ours = [_clone(si, place, f"vio-doomed-{i}", deployment) for i in range(3)]
    build.power_on(si, ours[0])
    theirs = _clone(si, place, "vio-other-deployment", other)
    # an untagged VM with a similar name
    template = vim.VirtualMachine(place["template"], si._stub)
    spec = vim.vm.CloneSpec(location=vim.vm.RelocateSpec(pool=vim.ResourcePool(place["pool"], si._stub)),
                            powerOn=False, template=False)
    task = template.CloneVM_Task(folder=vim.Folder(place["folder"], si._stub), name="vio-doomed-untagged", spec=spec)
    untagged = wait_for_tasks(si, [task], 60)[task._moId]["info.result"]._moId

    removed = build.destroy_deployment_vms(si, deployment)
    assert sorted(removed) == sorted(ours)
    left = {r["_obj"]._moId for r in collect(si, vim.VirtualMachine, ["name"])}
    assert not left & set(ours)
    assert {theirs, untagged, place["template"]} <= left
    assert build.destroy_deployment_vms(si, deployment) == []
