"""The simulator clones, customizes and refuses as vCenter does (CloneVM_Task, CustomizeVM_Task,
CreateVM_Task; VSPHERE_NSX.md section 5)."""

import uuid

import pytest
from pyVmomi import vim, vmodl

from inventory.clients.vsphere import collect, wait_for_tasks


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _inventory(si) -> dict:
    clusters = {r["name"]: r for r in collect(si, vim.ClusterComputeResource, ["name", "host", "resourcePool"])}
    datastores = {r["name"]: r["_obj"] for r in collect(si, vim.Datastore, ["name"])}
    template = next(r for r in collect(si, vim.VirtualMachine, ["name", "config.template", "runtime.host", "parent"])
                    if r.get("config.template"))
    return {"clusters": clusters, "datastores": datastores, "template": template["_obj"],
            "template_host": template["runtime.host"], "folder": template["parent"]}


def _outcome(si, task) -> dict:
    return wait_for_tasks(si, [task], timeout=30)[task._moId]


def _clone(si, inv, name, *, cluster="Management", datastore="vio-shared-nfs", host=None, **spec):
    location = vim.vm.RelocateSpec(pool=inv["clusters"][cluster]["resourcePool"], datastore=inv["datastores"][datastore],
                                   host=host)
    clone_spec = vim.vm.CloneSpec(location=location, powerOn=spec.pop("powerOn", False), template=spec.pop("template", False),
                                  **spec)
    return inv["template"].CloneVM_Task(folder=inv["folder"], name=name, spec=clone_spec)


def _read(si, obj, paths):
    rows = [r for r in collect(si, type(obj), paths) if r["_obj"]._moId == obj._moId]
    return rows[0]


def test_clone_honours_host_pool_datastore_and_config(vcenter_si):
    si = vcenter_si
    inv = _inventory(si)
    host = inv["clusters"]["Compute-A"]["host"][2]
    devices = _read(si, inv["template"], ["config.hardware.device"])["config.hardware.device"]
    disk = next(d for d in devices if isinstance(d, vim.vm.device.VirtualDisk))
    template_disk_file, template_disk_kb = disk.backing.fileName, disk.capacityInKB
    disk.capacityInKB = template_disk_kb * 4
    disk.capacityInBytes = disk.capacityInKB * 1024
    config = vim.vm.ConfigSpec(numCPUs=6, memoryMB=12288, numCoresPerSocket=3,
                               extraConfig=[vim.option.OptionValue(key="vio.role", value="controller")],
                               deviceChange=[vim.vm.device.VirtualDeviceSpec(operation="edit", device=disk)])
    name = _unique("placed")
    state = _outcome(si, _clone(si, inv, name, cluster="Compute-A", datastore="vio-compute-nfs", host=host, config=config))
    assert state["info.state"] == "success", state["info.error"]
    vm = state["info.result"]
    row = _read(si, vm, ["runtime.host", "resourcePool", "datastore", "config.hardware", "config.extraConfig", "name"])
    assert row["runtime.host"]._moId == host._moId
    assert row["resourcePool"]._moId == inv["clusters"]["Compute-A"]["resourcePool"]._moId
    assert [_read(si, ds, ["name"])["name"] for ds in row["datastore"]] == ["vio-compute-nfs"]
    hardware = row["config.hardware"]
    assert (hardware.numCPU, hardware.memoryMB, hardware.numCoresPerSocket) == (6, 12288, 3)
    extra = {o.key: o.value for o in row["config.extraConfig"]}
    assert extra["vio.role"] == "controller"
    clone_disk = next(d for d in hardware.device if isinstance(d, vim.vm.device.VirtualDisk))
    assert clone_disk.capacityInKB == template_disk_kb * 4
    assert clone_disk.backing.fileName.startswith(f"[vio-compute-nfs] {name}/")
    # The template is untouched: its disk is still its own file, at its own size.
    template_disk = next(d for d in _read(si, inv["template"], ["config.hardware.device"])["config.hardware.device"]
                         if isinstance(d, vim.vm.device.VirtualDisk))
    assert (template_disk.backing.fileName, template_disk.capacityInKB) == (template_disk_file, template_disk_kb)


def test_clone_without_host_goes_to_a_host_of_the_pool_cluster_that_mounts_the_datastore(vcenter_si):
    si = vcenter_si
    inv = _inventory(si)
    compute_b = {h._moId for h in inv["clusters"]["Compute-B"]["host"]}
    assert inv["template_host"]._moId not in compute_b  # the template lives in Management
    hosts = set()
    for _ in range(2):
        state = _outcome(si, _clone(si, inv, _unique("drs"), cluster="Compute-B", datastore="vio-compute-nfs"))
        assert state["info.state"] == "success", state["info.error"]
        hosts.add(_read(si, state["info.result"], ["runtime.host"])["runtime.host"]._moId)
    assert hosts <= compute_b and len(hosts) == 2  # the least loaded host each time


def test_clone_refuses_a_host_outside_the_pool_cluster(vcenter_si):
    si = vcenter_si
    inv = _inventory(si)
    name = _unique("wrong-host")
    state = _outcome(si, _clone(si, inv, name, cluster="Management", host=inv["clusters"]["Edge"]["host"][0]))
    assert state["info.state"] == "error"
    error = state["info.error"]
    assert isinstance(error, vmodl.fault.InvalidArgument) and error.invalidProperty == "spec.location.host"
    assert "spec.location.host" in error.msg and "types." not in error.msg
    assert name not in {r["name"] for r in collect(si, vim.VirtualMachine, ["name"])}


def test_clone_refuses_a_datastore_the_host_does_not_mount(vcenter_si):
    """It used to panic the simulator (the connection dropped, a half-made VM stayed behind)."""
    si = vcenter_si
    inv = _inventory(si)
    name = _unique("unmounted")
    management_host = inv["clusters"]["Management"]["host"][0]
    state = _outcome(si, _clone(si, inv, name, datastore="vio-compute-nfs", host=management_host))
    assert state["info.state"] == "error"
    assert isinstance(state["info.error"], vim.fault.InvalidDatastore)
    assert "vio-compute-nfs" in state["info.error"].msg
    # Without a host: no host of the Management cluster mounts it either.
    state = _outcome(si, _clone(si, inv, name, datastore="vio-compute-nfs"))
    assert isinstance(state["info.error"], vim.fault.InvalidDatastore)
    assert name not in {r["name"] for r in collect(si, vim.VirtualMachine, ["name"])}
    assert si.CurrentTime() is not None


def test_clone_refuses_a_name_taken_in_the_folder(vcenter_si):
    si = vcenter_si
    inv = _inventory(si)
    name = _unique("twice")
    assert _outcome(si, _clone(si, inv, name))["info.state"] == "success"
    state = _outcome(si, _clone(si, inv, name))
    assert state["info.state"] == "error"
    assert isinstance(state["info.error"], vim.fault.DuplicateName) and state["info.error"].name == name
    assert state["info.error"].msg == f"The name '{name}' already exists."
    assert [r["name"] for r in collect(si, vim.VirtualMachine, ["name"])].count(name) == 1


def test_create_vm_refuses_a_name_taken_in_the_folder(vcenter_si):
    si = vcenter_si
    inv = _inventory(si)
    name = _unique("created")
    pool = inv["clusters"]["Management"]["resourcePool"]
    config = vim.vm.ConfigSpec(name=name, guestId="otherGuest64", files=vim.vm.FileInfo(vmPathName="[vio-shared-nfs]"))
    assert _outcome(si, inv["folder"].CreateVM_Task(config=config, pool=pool))["info.state"] == "success"
    state = _outcome(si, inv["folder"].CreateVM_Task(config=config, pool=pool))
    assert isinstance(state["info.error"], vim.fault.DuplicateName)


def test_clone_refuses_to_shrink_a_disk(vcenter_si):
    si = vcenter_si
    inv = _inventory(si)
    devices = _read(si, inv["template"], ["config.hardware.device"])["config.hardware.device"]
    disk = next(d for d in devices if isinstance(d, vim.vm.device.VirtualDisk))
    disk.capacityInKB, disk.capacityInBytes = disk.capacityInKB // 2, disk.capacityInKB // 2 * 1024
    config = vim.vm.ConfigSpec(deviceChange=[vim.vm.device.VirtualDeviceSpec(operation="edit", device=disk)])
    state = _outcome(si, _clone(si, inv, _unique("shrunk"), config=config))
    assert isinstance(state["info.error"], vim.fault.InvalidDeviceSpec)


def _customization(ip: str, hostname: str):
    return vim.vm.customization.Specification(
        identity=vim.vm.customization.LinuxPrep(hostName=vim.vm.customization.FixedName(name=hostname), domain="vio.local"),
        globalIPSettings=vim.vm.customization.GlobalIPSettings(dnsServerList=["10.0.0.2"]),
        nicSettingMap=[vim.vm.customization.AdapterMapping(adapter=vim.vm.customization.IPSettings(
            ip=vim.vm.customization.FixedIp(ipAddress=ip), subnetMask="255.255.255.0"))])


def _nic_add(si):
    portgroup = next(r for r in collect(si, vim.dvs.DistributedVirtualPortgroup, ["name", "key", "config.distributedVirtualSwitch"])
                     if r["name"] == "VIO-Management")
    switch = _read(si, portgroup["config.distributedVirtualSwitch"], ["uuid"])["uuid"]
    nic = vim.vm.device.VirtualVmxnet3(key=-100, addressType="generated", backing=vim.vm.device.VirtualEthernetCard.
                                       DistributedVirtualPortBackingInfo(port=vim.dvs.PortConnection(
                                           switchUuid=switch, portgroupKey=portgroup["key"])))
    return vim.vm.device.VirtualDeviceSpec(operation="add", device=nic)


def test_clone_customizes_and_powers_on_and_the_guest_reports_only_once_running(vcenter_si):
    si = vcenter_si
    inv = _inventory(si)
    config = vim.vm.ConfigSpec(deviceChange=[_nic_add(si)])
    off = _outcome(si, _clone(si, inv, _unique("custom-off"), config=config, customization=_customization("10.0.0.41", "off41")))
    assert off["info.state"] == "success", off["info.error"]
    row = _read(si, off["info.result"], ["runtime.powerState", "guest.ipAddress", "config.hardware.device"])
    assert row["runtime.powerState"] == "poweredOff" and not row.get("guest.ipAddress")

    config = vim.vm.ConfigSpec(deviceChange=[_nic_add(si)])
    on = _outcome(si, _clone(si, inv, _unique("custom-on"), config=config, powerOn=True,
                             customization=_customization("10.0.0.42", "ctl42")))
    assert on["info.state"] == "success", on["info.error"]
    row = _read(si, on["info.result"], ["runtime.powerState", "guest.ipAddress", "guest.hostName"])
    assert row["runtime.powerState"] == "poweredOn"
    assert (row["guest.ipAddress"], row["guest.hostName"]) == ("10.0.0.42", "ctl42")

    # CustomizeVM_Task on a running VM: vCenter's InvalidPowerState, in words.
    state = _outcome(si, on["info.result"].CustomizeVM_Task(_customization("10.0.0.43", "again")))
    assert isinstance(state["info.error"], vim.fault.InvalidPowerState)
    assert state["info.error"].msg == "The attempted operation cannot be performed in the current state (Powered on)."


def test_clone_customization_must_match_the_nics(vcenter_si):
    si = vcenter_si
    inv = _inventory(si)  # the template has no NIC
    state = _outcome(si, _clone(si, inv, _unique("nonic"), customization=_customization("10.0.0.44", "x")))
    assert isinstance(state["info.error"], vim.fault.NicSettingMismatch)


def test_clones_get_their_own_mac_addresses(vcenter_si):
    si = vcenter_si
    inv = _inventory(si)
    macs = []
    for _ in range(2):
        state = _outcome(si, _clone(si, inv, _unique("mac"), config=vim.vm.ConfigSpec(deviceChange=[_nic_add(si)])))
        devices = _read(si, state["info.result"], ["config.hardware.device"])["config.hardware.device"]
        macs += [d.macAddress for d in devices if isinstance(d, vim.vm.device.VirtualEthernetCard)]
    assert len(macs) == 2 and macs[0] != macs[1] and all(macs)


@pytest.mark.parametrize("template", [True, False])
def test_clone_to_template_or_vm(vcenter_si, template):
    si = vcenter_si
    inv = _inventory(si)
    # powerOn is ignored when the clone is a template (vCenter's rule).
    state = _outcome(si, _clone(si, inv, _unique("tpl"), powerOn=True, template=template))
    assert state["info.state"] == "success", state["info.error"]
    row = _read(si, state["info.result"], ["config.template", "runtime.powerState"])
    assert row["config.template"] is template
    assert row["runtime.powerState"] == ("poweredOff" if template else "poweredOn")


def test_create_folder_names_the_existing_folder_in_duplicate_name(vcenter_si):
    vm_folder = vcenter_si.content.rootFolder.childEntity[0].vmFolder
    name = _unique("folder")
    made = vm_folder.CreateFolder(name)
    with pytest.raises(vim.fault.DuplicateName) as caught:
        vm_folder.CreateFolder(name)
    assert caught.value.object._moId == made._moId and caught.value.msg == f"The name '{name}' already exists."
