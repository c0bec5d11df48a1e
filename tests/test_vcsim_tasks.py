"""The simulator's tasks, faults, delays, ids and robustness, as vCenter's (VSPHERE_NSX.md section 5)."""

import re
import time
import uuid

import pytest
from pyVmomi import vim, vmodl

from inventory.clients.vsphere import collect, disconnect, wait_for_tasks


def _template_and_pool(si, cluster="Management"):
    template = next(r["_obj"] for r in collect(si, vim.VirtualMachine, ["name", "config.template"]) if r.get("config.template"))
    pool = next(r["resourcePool"] for r in collect(si, vim.ClusterComputeResource, ["name", "resourcePool"]) if r["name"] == cluster)
    return template, pool


def _clone(si, name, **spec):
    template, pool = _template_and_pool(si)
    return template.CloneVM_Task(folder=template.parent, name=name, spec=vim.vm.CloneSpec(
        location=vim.vm.RelocateSpec(pool=pool), powerOn=False, template=False, **spec))


def _name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_ids_and_types_have_vcenter_shapes(vcenter_si):
    si = vcenter_si
    assert si.content.rootFolder._moId == "group-d1"
    shapes = {
        vim.Datacenter: r"datacenter-\d+", vim.ClusterComputeResource: r"domain-c\d+", vim.HostSystem: r"host-\d+",
        vim.Datastore: r"datastore-\d+", vim.ResourcePool: r"resgroup-\d+", vim.VirtualMachine: r"vm-\d+",
        vim.dvs.DistributedVirtualPortgroup: r"dvportgroup-\d+", vim.DistributedVirtualSwitch: r"dvs-\d+",
    }
    for kind, shape in shapes.items():
        moids = [r["_obj"]._moId for r in collect(si, kind, ["name"])]
        assert moids and all(re.fullmatch(shape, m) for m in moids), (kind, moids)
    networks = [r["_obj"] for r in collect(si, vim.Network, ["name"]) if r["name"] == "VM Network"]
    assert re.fullmatch(r"network-\d+", networks[0]._moId)
    folders = {r["name"]: r["_obj"]._moId for r in collect(si, vim.Folder, ["name"])}
    for name, letter in (("vm", "v"), ("host", "h"), ("datastore", "s"), ("network", "n")):
        assert re.fullmatch(rf"group-{letter}\d+", folders[name]), folders
    # The switch is a VmwareDistributedVirtualSwitch: a view of that type finds it.
    switches = collect(si, vim.dvs.VmwareDistributedVirtualSwitch, ["name", "config.maxMtu"])
    assert [s["name"] for s in switches] == ["VIO-DSwitch"] and isinstance(switches[0]["_obj"], vim.dvs.VmwareDistributedVirtualSwitch)
    for row in collect(si, vim.Datastore, ["name", "summary.url", "summary.type"]):
        hexes = r"[0-9a-f]{8}-[0-9a-f]{8}" if row["summary.type"] == "NFS" else r"[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{12}"
        assert re.fullmatch(rf"ds:///vmfs/volumes/{hexes}/", row["summary.url"]), row
    # Objects made at run time get vCenter's shapes too.
    vm_folder = si.content.rootFolder.childEntity[0].vmFolder
    assert re.fullmatch(r"group-v\d+", vm_folder.CreateFolder(_name("runtime"))._moId)
    task = _clone(si, _name("runtime-vm"))
    assert re.fullmatch(r"task-\d+", task._moId)
    assert re.fullmatch(r"vm-\d+", wait_for_tasks(si, [task])[task._moId]["info.result"]._moId)


def test_one_task_per_call(vcsim, vcenter_si):
    si = vcenter_si
    before = {t._moId for t in si.content.taskManager.recentTask}
    vcsim.inject(method="CloneVM_Task", delay=300, count=1)
    delayed = _clone(si, _name("one-task"))
    vm = wait_for_tasks(si, [delayed])[delayed._moId]["info.result"]
    power = vm.PowerOnVM_Task()
    wait_for_tasks(si, [power])
    new = {t._moId for t in si.content.taskManager.recentTask} - before
    assert new == {delayed._moId, power._moId}  # no inner CreateVM or proxy task
    assert delayed.info.descriptionId == "VirtualMachine.clone" and delayed.info.entityName == "ubuntu-16.04-vio-template"


def test_a_fault_fires_on_a_method_with_a_startup_delay(vcsim_factory):
    fresh = vcsim_factory("-task-delay", "CloneVM_Task=800")
    si = fresh.connect()
    try:
        fresh.inject(method="CloneVM_Task", fault="InsufficientResourcesFault", count=1)
        started = time.monotonic()
        task = _clone(si, _name("delayed-fault"))
        assert task.info.state == "running"
        state = wait_for_tasks(si, [task], timeout=10)[task._moId]
        assert time.monotonic() - started >= 0.75  # it stayed running for the delay, then failed
        assert state["info.state"] == "error" and isinstance(state["info.error"], vim.fault.InsufficientResourcesFault)
        assert "Insufficient resources" in task.info.error.msg and "types." not in task.info.error.msg
        # The fault was used up; the delay stays.
        again = _clone(si, _name("delayed-ok"))
        assert again.info.state == "running"
        assert wait_for_tasks(si, [again], timeout=10)[again._moId]["info.state"] == "success"
    finally:
        disconnect(si)


def test_an_injected_delay_and_fault_compose_with_the_given_message(vcsim, vcenter_si):
    si = vcenter_si
    vcsim.inject(method="PowerOnVM_Task", delay=600, count=1)
    vcsim.inject(method="PowerOnVM_Task", fault="InsufficientFailoverResourcesFault", message="No room for HA failover", count=1)
    vm = wait_for_tasks(si, [c := _clone(si, _name("compose"))])[c._moId]["info.result"]
    started = time.monotonic()
    task = vm.PowerOnVM_Task()
    state = wait_for_tasks(si, [task], timeout=10)[task._moId]
    assert time.monotonic() - started >= 0.55
    assert isinstance(state["info.error"], vim.fault.InsufficientFailoverResourcesFault)
    assert task.info.error.msg == "No room for HA failover"
    assert vm.runtime.powerState == "poweredOff"  # the fault replaced the real call


def test_progress_moves_while_a_delayed_task_runs(vcsim, vcenter_si):
    si = vcenter_si
    vcsim.inject(method="CloneVM_Task", delay=2000, count=1)
    task = _clone(si, _name("progress"))
    seen = set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        info = task.info
        if info.state != "running":
            break
        seen.add(info.progress or 0)
        time.sleep(0.15)
    assert task.info.state == "success" and task.info.progress == 100
    assert len({p for p in seen if p is not None}) >= 3 and min(seen) < 50 < max(seen)


def test_a_delayed_task_outlives_the_session_that_started_it(vcsim, vcenter_si):
    starter = vcsim.connect()
    vcsim.inject(method="CloneVM_Task", delay=1000, count=1)
    name = _name("orphan")
    task_moid = _clone(starter, name)._moId
    starter.content.sessionManager.Logout()  # the session ends while the task runs
    task = vim.Task(task_moid, vcenter_si._stub)
    state = wait_for_tasks(vcenter_si, [task], timeout=10)[task_moid]
    assert state["info.state"] == "success", state["info.error"]
    assert state["info.result"].name == name


def test_task_events_come_newest_first(vcsim, vcenter_si):
    si = vcenter_si
    task = _clone(si, _name("events"))
    vm = wait_for_tasks(si, [task])[task._moId]["info.result"]
    template, _ = _template_and_pool(si)
    spec = vim.event.EventFilterSpec(entity=vim.event.EventFilterSpec.ByEntity(entity=template, recursion="self"))
    events = si.content.eventManager.QueryEvents(spec)
    keys = [e.key for e in events]
    assert keys == sorted(keys, reverse=True)
    task_events = [e for e in events if isinstance(e, vim.event.TaskEvent) and e.info.task._moId == task._moId]
    assert len(task_events) == 1 and task_events[0].fullFormattedMessage == "Task: Clone virtual machine"
    assert task_events[0].chainId == task.info.eventChainId
    # A collector's latest page holds the newest events, newest first (govc events -n N relies on it).
    collector = si.content.eventManager.CreateCollectorForEvents(vim.event.EventFilterSpec())
    collector.SetCollectorPageSize(3)
    page = collector.latestPage
    assert isinstance(page[0], vim.event.VmClonedEvent) and page[0].vm.vm._moId == vm._moId
    assert [e.key for e in page] == sorted((e.key for e in page), reverse=True) and page[0].key >= keys[0]
    collector.DestroyCollector()


@pytest.mark.parametrize("count", ["0", "-2", "-5", "soon"])
def test_control_refuses_counts_below_one(vcsim, count):
    status, body = vcsim.control("POST", method="CloneVM_Task", fault="InvalidState", count=count)
    assert status == 400 and "count" in body and "all" in body


def test_control_counts_calls_or_every_call(vcsim, vcenter_si):
    vcsim.inject(method="CurrentTime", fault="InvalidState", count=2)
    for _ in range(2):
        with pytest.raises(vim.fault.InvalidState):
            vcenter_si.CurrentTime()
    assert vcenter_si.CurrentTime() is not None
    for every in ("all", "-1"):
        status, body = vcsim.control("POST", method="CurrentTime", fault="InvalidState", count=every)
        assert status == 201 and '"count":"all"' in body.replace(" ", "")
    for _ in range(3):
        with pytest.raises(vim.fault.InvalidState) as caught:
            vcenter_si.CurrentTime()
    assert caught.value.msg == "The operation is not allowed in the current state."
    vcsim.clear_faults()
    assert vcenter_si.CurrentTime() is not None


def test_requests_that_used_to_crash_it_get_answers(vcsim, vcenter_si):
    """Each of these panicked a simulator handler (the client saw the connection drop); now each
    gets vCenter's answer or a SOAP fault, and the simulator goes on answering."""
    si = vcenter_si
    template, pool = _template_and_pool(si)
    # pyvmomi's attribute access of an unset property (Fetch): None, as vCenter answers.
    assert template.snapshot is None and template.parentVApp is None
    # A clone onto a datastore the host does not mount: a task error, not a dropped connection.
    compute_nfs = next(r["_obj"] for r in collect(si, vim.Datastore, ["name"]) if r["name"] == "vio-compute-nfs")
    task = template.CloneVM_Task(folder=template.parent, name=_name("crash"), spec=vim.vm.CloneSpec(
        location=vim.vm.RelocateSpec(pool=pool, datastore=compute_nfs)))
    assert isinstance(wait_for_tasks(si, [task])[task._moId]["info.error"], vim.fault.InvalidDatastore)
    # Still-panicking simulator code, in a plain call and inside a task: a SystemError, with words.
    not_a_folder = vim.Folder("host-999999", si._stub)
    with pytest.raises(vmodl.fault.SystemError) as caught:
        pool.ImportVApp(vim.vm.VmImportSpec(configSpec=vim.vm.ConfigSpec(name=_name("import"))), not_a_folder)
    assert "the simulator failed" in caught.value.msg
    vm = wait_for_tasks(si, [c := _clone(si, _name("relocate"))])[c._moId]["info.result"]
    task = vm.RelocateVM_Task(vim.vm.RelocateSpec(datastore=vim.Datastore("datastore-999999", si._stub)))
    error = wait_for_tasks(si, [task])[task._moId]["info.error"]
    assert isinstance(error, vmodl.fault.SystemError) and "the simulator failed" in error.msg
    assert si.CurrentTime() is not None
    assert vcsim.running.process.poll() is None
