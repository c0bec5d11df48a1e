"""The idempotent vCenter actions of a deployment's bring-up: folders, pools, clones, customization,
anti-affinity rules, power, guest readiness, teardown.

Rules (see DESIGN.md): every function looks before it creates and adopts what is ours. VMs carry the
deployment tag in extraConfig ("vio-manager.deployment" = deployment id, "vio-manager.role");
folders and resource pools cannot carry extraConfig, so they are found by name under their parent
and the caller records their moids. Everything is read through the PropertyCollector (the 0.24.2
simulator crashes on attribute access of unset top-level properties). Messages are for a vSphere
administrator and never contain a secret.
"""

import logging

from pyVmomi import vim, vmodl

from inventory.clients.vsphere import WaitTimeout, collect, wait_for_tasks, watching

log = logging.getLogger(__name__)

DEPLOYMENT_KEY = "vio-manager.deployment"
ROLE_KEY = "vio-manager.role"
CUSTOMIZED_KEY = "vio-manager.customized"
# Only the vCenter simulator honours "SET.<property path>" extraConfig keys; a real vCenter stores the
# key as an inert option. Used so the simulated guest reports VMware Tools as running.
SIMULATED_TOOLS_KEY = "SET.guest.toolsRunningStatus"
TOOLS_RUNNING = "guestToolsRunning"


class BuildError(Exception):
    """A bring-up action failed; the message says which object and what vCenter said."""


class GuestWaitTimeout(BuildError, WaitTimeout):
    """The guest did not report its IP address and running VMware Tools in time."""


# --- reading ----------------------------------------------------------------------------------------


def _ref(si, kind, moid: str):
    return kind(moid, si._stub)


def _read(si, obj, paths: list[str]) -> dict:
    """The set properties of one object, through the collector (unset ones are absent)."""
    pc = vmodl.query.PropertyCollector
    spec = pc.FilterSpec(objectSet=[pc.ObjectSpec(obj=obj, skip=False)],
                         propSet=[pc.PropertySpec(type=type(obj), pathSet=paths, all=False)])
    try:
        result = si.content.propertyCollector.RetrievePropertiesEx([spec], pc.RetrieveOptions())
    except vmodl.fault.ManagedObjectNotFound:
        raise BuildError(f"{_kind(obj)} {obj._moId} no longer exists in vCenter.") from None
    if not result or not result.objects:
        raise BuildError(f"{_kind(obj)} {obj._moId} no longer exists in vCenter.")
    return {p.name: p.val for p in result.objects[0].propSet or []}


def _kind(obj) -> str:
    return type(obj).__name__.rsplit(".", 1)[-1]


def _tags(row: dict) -> dict:
    return {option.key: option.value for option in row.get("config.extraConfig") or []}


def fault_text(fault) -> str:
    """A short human text for a vCenter fault: its type and message."""
    if fault is None:
        return "no details given"
    if isinstance(fault, vmodl.MethodFault):
        messages = [m.message for m in fault.faultMessage or [] if getattr(m, "message", None)]
        text = fault.msg or "; ".join(messages)
        return _kind(fault) + (f" ({text})" if text else "")
    return str(fault)


def _run_task(si, task, what: str, timeout: float):
    """Wait for one task; return its result, or raise BuildError naming `what` and vCenter's fault."""
    try:
        state = wait_for_tasks(si, [task], timeout=timeout)[task._moId]
    except WaitTimeout:
        raise BuildError(f"{what}: vCenter task {task._moId} was still running after {timeout:g} s.") from None
    if state.get("info.state") == "error":
        raise BuildError(f"{what} failed: vCenter said {fault_text(state.get('info.error'))}.")
    return state.get("info.result")


def _child_by_name(si, kind, parent, name: str):
    """The direct child of `parent` of this type with this name, or None."""
    for row in collect(si, kind, ["name", "parent"], root=parent):
        if row.get("name") == name and row.get("parent") is not None and row["parent"]._moId == parent._moId:
            return row["_obj"]
    return None


# --- folders and resource pools -------------------------------------------------------------------


def ensure_folder(si, datacenter_moid: str, name: str) -> str:
    """The moid of the VM folder `name` directly under the datacenter's VM folder; created if missing."""
    vm_folder = _read(si, _ref(si, vim.Datacenter, datacenter_moid), ["vmFolder"])["vmFolder"]
    found = _child_by_name(si, vim.Folder, vm_folder, name)
    if found is not None:
        return found._moId
    try:
        return vm_folder.CreateFolder(name)._moId
    except vim.fault.DuplicateName:  # made meanwhile by someone else: adopt it
        # Look again by name: the 0.24.2 simulator puts the *parent* in DuplicateName.object.
        existing = _child_by_name(si, vim.Folder, vm_folder, name)
        if existing is None:
            raise BuildError(f"The folder '{name}' exists but could not be read back.") from None
        return existing._moId
    except vmodl.MethodFault as fault:
        raise BuildError(f"Creating the VM folder '{name}' failed: vCenter said {fault_text(fault)}.") from None


def ensure_resource_pool(si, cluster_moid: str, name: str) -> str:
    """The moid of resource pool `name` directly under the cluster's root pool; created if missing."""
    root = _read(si, _ref(si, vim.ClusterComputeResource, cluster_moid), ["resourcePool"]).get("resourcePool")
    if root is None:
        raise BuildError(f"Cluster {cluster_moid} has no root resource pool.")
    found = _child_by_name(si, vim.ResourcePool, root, name)
    if found is not None:
        return found._moId
    allocation = dict(reservation=0, expandableReservation=True, limit=-1,
                      shares=vim.SharesInfo(level="normal", shares=0))
    spec = vim.ResourceConfigSpec(cpuAllocation=vim.ResourceAllocationInfo(**allocation),
                                  memoryAllocation=vim.ResourceAllocationInfo(**allocation))
    try:
        return root.CreateResourcePool(name, spec)._moId
    except vim.fault.DuplicateName:
        existing = _child_by_name(si, vim.ResourcePool, root, name)
        if existing is None:
            raise BuildError(f"The resource pool '{name}' exists but could not be read back.") from None
        return existing._moId
    except vmodl.MethodFault as fault:
        raise BuildError(f"Creating the resource pool '{name}' failed: vCenter said {fault_text(fault)}.") from None


def remove_folder_if_empty(si, folder_moid: str) -> bool:
    """Destroy the folder if it holds nothing; True if it is gone (or was already)."""
    folder = _ref(si, vim.Folder, folder_moid)
    try:
        children = _read(si, folder, ["childEntity"]).get("childEntity") or []
    except BuildError:
        return True
    if children:
        log.info("folder %s still holds %d object(s): kept", folder_moid, len(children))
        return False
    _run_task(si, folder.Destroy_Task(), f"Removing folder {folder_moid}", 120)
    return True


# --- VMs ------------------------------------------------------------------------------------------


def _deployment_vms(si, deployment_id: str, extra: list[str] = (), within: str | None = None) -> list[dict]:
    root = _ref(si, vim.Folder, within) if within else None
    rows = collect(si, vim.VirtualMachine, ["name", "config.extraConfig", *extra], root=root)
    return [row for row in rows if _tags(row).get(DEPLOYMENT_KEY) == str(deployment_id)]


def find_vm(si, deployment_id: str, vm_name: str, within: str | None = None) -> str | None:
    """The moid of this deployment's VM called vm_name (by tag and name), or None. within: the
    folder the deployment's VMs are made in; reading only it keeps the look cheap in a vCenter of
    thousands of VMs (teardown still searches everywhere, by tag)."""
    for row in _deployment_vms(si, deployment_id, within=within):
        if row.get("name") == vm_name:
            return row["_obj"]._moId
    return None


def clone_vm(si, *, template_moid: str, name: str, folder_moid: str, pool_moid: str, datastore_moid: str,
             deployment_id: str, role: str, timeout: float = 600.0, simulated_tools: bool = False,
             network_moid: str | None = None, host_moid: str | None = None,
             earlier_task: str | None = None, on_task=None) -> str:
    """Clone the template into a tagged, powered-off VM and return its moid; adopt it if it exists.

    network_moid: a port group (standard or distributed) for the VM's first NIC; the template's
    first NIC is moved onto it, or a VMXNET3 NIC is added when the template has none (guest
    customization needs exactly one NIC per fixed-IP setting).

    simulated_tools: add the extraConfig key only the vCenter simulator honours to report VMware
    Tools as running (tests and the embedded demo); never set it against a real vCenter.

    earlier_task / on_task: the clone task an earlier attempt started (its worker died while
    waiting) is waited for and its VM adopted, so no second clone starts; on_task(moid) is told
    the new task's id before the wait, to be recorded for such a next attempt.
    """
    what = f"Cloning VM '{name}' (role {role}) from template {template_moid}"
    if earlier_task:
        adopted = _earlier_clone(si, earlier_task, what, timeout)
        if adopted:
            log.info("VM %s (%s) made by an earlier attempt's task %s: adopted", name, adopted, earlier_task)
            return adopted
    existing = find_vm(si, deployment_id, name, within=folder_moid)
    if existing:
        log.info("VM %s (%s) already exists: adopted", name, existing)
        return existing
    tags = {DEPLOYMENT_KEY: str(deployment_id), ROLE_KEY: role}
    if simulated_tools:
        tags[SIMULATED_TOOLS_KEY] = TOOLS_RUNNING
    spec = vim.vm.CloneSpec(
        location=vim.vm.RelocateSpec(pool=_ref(si, vim.ResourcePool, pool_moid),
                                     datastore=_ref(si, vim.Datastore, datastore_moid),
                                     host=_ref(si, vim.HostSystem, host_moid) if host_moid else None),
        config=vim.vm.ConfigSpec(extraConfig=[vim.option.OptionValue(key=k, value=v) for k, v in tags.items()]),
        powerOn=False,
        template=False,
    )
    template = _ref(si, vim.VirtualMachine, template_moid)
    if network_moid:
        spec.config.deviceChange = [_nic_change(si, template, network_moid)]
    try:
        task = template.CloneVM_Task(folder=_ref(si, vim.Folder, folder_moid), name=name, spec=spec)
        if on_task:
            on_task(task._moId)
        result = _run_task(si, task, what, timeout)
    except vmodl.MethodFault as fault:
        _remove_half_made(si, deployment_id, name, folder_moid)
        raise BuildError(f"{what} failed: vCenter said {fault_text(fault)}.") from None
    except BuildError:
        _remove_half_made(si, deployment_id, name, folder_moid)
        raise
    if result is None:
        raise BuildError(f"{what} reported success but returned no VM.")
    log.info("VM %s cloned as %s", name, result._moId)
    return result._moId


def _earlier_clone(si, task_moid: str, what: str, timeout: float) -> str | None:
    """The VM an earlier attempt's clone task made (waiting for it if it still runs), or None when
    that task failed or vCenter no longer knows it (then the caller looks for the VM itself)."""
    try:
        result = _run_task(si, _ref(si, vim.Task, task_moid), what, timeout)
    except vmodl.fault.ManagedObjectNotFound:
        return None
    except BuildError as exc:
        log.info("the earlier clone task %s did not make the VM: %s", task_moid, exc)
        return None
    return result._moId if result is not None else None


_BACKINGS: dict[tuple[str, str], tuple] = {}  # (vCenter, network moid) -> how a NIC attaches to it


def _backing(si, network_moid: str):
    """How a NIC attaches to the network; a port group's key and switch never change, so it is read
    once per process and vCenter, not at every clone."""
    key = (getattr(getattr(si._stub, "soapStub", si._stub), "host", ""), network_moid)
    if key not in _BACKINGS:
        rows = [r for r in collect(si, vim.Network, ["name"]) if r["_obj"]._moId == network_moid]
        if not rows:
            raise BuildError(f"Network {network_moid} does not exist in vCenter.")
        network = rows[0]["_obj"]
        if isinstance(network, vim.dvs.DistributedVirtualPortgroup):
            config = _read(si, network, ["key", "config.distributedVirtualSwitch"])
            switch = _read(si, config["config.distributedVirtualSwitch"], ["uuid"])["uuid"]
            _BACKINGS[key] = ("distributed", switch, config["key"])
        else:
            _BACKINGS[key] = ("standard", rows[0]["name"], network_moid)
    kind, first, second = _BACKINGS[key]
    if kind == "distributed":
        return vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo(
            port=vim.dvs.PortConnection(switchUuid=first, portgroupKey=second))
    return vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(deviceName=first, network=_ref(si, vim.Network, second))


def _nic_change(si, template, network_moid: str):
    """A device change that puts the clone's first NIC on the network (edit, or add if none)."""
    backing = _backing(si, network_moid)
    devices = _read(si, template, ["config.hardware.device"]).get("config.hardware.device") or []
    nic = next((d for d in devices if isinstance(d, vim.vm.device.VirtualEthernetCard)), None)
    operation = "edit"
    if nic is None:
        nic, operation = vim.vm.device.VirtualVmxnet3(key=-100, addressType="generated"), "add"
    nic.backing = backing
    nic.connectable = vim.vm.device.VirtualDevice.ConnectInfo(startConnected=True, allowGuestControl=True,
                                                              connected=False)
    return vim.vm.device.VirtualDeviceSpec(operation=operation, device=nic)


def _remove_half_made(si, deployment_id: str, name: str, folder_moid: str) -> None:
    moid = find_vm(si, deployment_id, name, within=folder_moid)
    if moid:
        log.warning("removing VM %s (%s) left by a failed clone", name, moid)
        try:
            _destroy_vm(si, _ref(si, vim.VirtualMachine, moid), None)
        except BuildError as exc:
            log.warning("could not remove %s: %s", name, exc)


def customize_vm(si, vm_moid: str, *, hostname: str, ip: str, netmask: str, gateway: str,
                 dns_servers: list[str], domain: str, timeout: float = 300.0) -> None:
    """Apply a Linux guest customization (host name, one NIC with a fixed IP); once per IP.

    The VM must be powered off (vCenter's rule). Afterwards the VM is tagged
    "vio-manager.customized" = ip, so running this again with the same IP does nothing.
    """
    vm = _ref(si, vim.VirtualMachine, vm_moid)
    row = _read(si, vm, ["name", "config.extraConfig", "runtime.powerState"])
    name = row.get("name", vm_moid)
    if _tags(row).get(CUSTOMIZED_KEY) == ip:
        log.info("VM %s already customized with %s", name, ip)
        return
    if row.get("runtime.powerState") != vim.VirtualMachinePowerState.poweredOff:
        raise BuildError(f"VM '{name}' must be powered off to be customized (it is {row.get('runtime.powerState')}).")
    spec = vim.vm.customization.Specification(
        identity=vim.vm.customization.LinuxPrep(hostName=vim.vm.customization.FixedName(name=hostname),
                                                domain=domain),
        globalIPSettings=vim.vm.customization.GlobalIPSettings(dnsServerList=list(dns_servers),
                                                               dnsSuffixList=[domain] if domain else []),
        nicSettingMap=[vim.vm.customization.AdapterMapping(adapter=vim.vm.customization.IPSettings(
            ip=vim.vm.customization.FixedIp(ipAddress=ip), subnetMask=netmask,
            gateway=[gateway] if gateway else [], dnsServerList=list(dns_servers)))],
    )
    what = f"Customizing VM '{name}' as {hostname} ({ip})"
    try:
        _run_task(si, vm.CustomizeVM_Task(spec), what, timeout)
        tag = vim.vm.ConfigSpec(extraConfig=[vim.option.OptionValue(key=CUSTOMIZED_KEY, value=ip)])
        _run_task(si, vm.ReconfigVM_Task(tag), f"Tagging VM '{name}' as customized", timeout)
    except vmodl.MethodFault as fault:
        raise BuildError(f"{what} failed: vCenter said {fault_text(fault)}.") from None


def power_on(si, vm_moid: str, timeout: float = 300.0) -> None:
    """Power the VM on; a VM that is already on is left alone."""
    vm = _ref(si, vim.VirtualMachine, vm_moid)
    row = _read(si, vm, ["name", "runtime.powerState"])
    if row.get("runtime.powerState") == vim.VirtualMachinePowerState.poweredOn:
        return
    name = row.get("name", vm_moid)
    try:
        _run_task(si, vm.PowerOnVM_Task(), f"Powering on VM '{name}'", timeout)
    except vmodl.MethodFault as fault:
        raise BuildError(f"Powering on VM '{name}' failed: vCenter said {fault_text(fault)}.") from None
    except BuildError:
        # Someone else powered it on meanwhile (InvalidPowerState): that is what we wanted.
        if _read(si, vm, ["runtime.powerState"]).get("runtime.powerState") != vim.VirtualMachinePowerState.poweredOn:
            raise


def wait_for_guest(si, vm_moid: str, expected_ip: str, timeout: float = 600.0, stop=None) -> dict:
    """Wait (without polling) until the guest reports expected_ip and VMware Tools running.

    Returns {"ip", "hostname", "tools"}; raises GuestWaitTimeout (a BuildError and a WaitTimeout),
    or WaitStopped soon after the threading.Event `stop` is set.
    """
    vm = _ref(si, vim.VirtualMachine, vm_moid)
    paths = ["guest.ipAddress", "guest.hostName", "guest.toolsRunningStatus"]
    seen: dict = {}
    try:
        with watching(si, [vm], vim.VirtualMachine, paths, timeout, stop=stop) as updates:
            for state in updates:
                seen = state.get(vm_moid, {})
                if seen.get("guest.ipAddress") == expected_ip and seen.get("guest.toolsRunningStatus") == TOOLS_RUNNING:
                    return {"ip": expected_ip, "hostname": seen.get("guest.hostName"), "tools": TOOLS_RUNNING}
    except WaitTimeout:
        pass
    raise GuestWaitTimeout(
        f"VM {vm_moid} did not come up within {timeout:g} s: it reports IP {seen.get('guest.ipAddress') or 'none'} "
        f"(expected {expected_ip}) and VMware Tools {seen.get('guest.toolsRunningStatus') or 'unknown'}."
    )


def _destroy_vm(si, vm, power_state) -> None:
    if power_state is None:
        power_state = _read(si, vm, ["runtime.powerState"]).get("runtime.powerState")
    if power_state != vim.VirtualMachinePowerState.poweredOff:
        try:
            _run_task(si, vm.PowerOffVM_Task(), f"Powering off VM {vm._moId}", 300)
        except BuildError:
            if _read(si, vm, ["runtime.powerState"]).get("runtime.powerState") != "poweredOff":
                raise
    _run_task(si, vm.Destroy_Task(), f"Deleting VM {vm._moId}", 300)


def destroy_deployment_vms(si, deployment_id: str) -> list[str]:
    """Power off and delete every VM tagged with this deployment; returns the moids deleted."""
    removed = []
    for row in _deployment_vms(si, deployment_id, ["runtime.powerState"]):
        vm = row["_obj"]
        try:
            _destroy_vm(si, vm, row.get("runtime.powerState"))
        except vmodl.MethodFault as fault:
            raise BuildError(f"Deleting VM '{row.get('name')}' failed: vCenter said {fault_text(fault)}.") from None
        log.info("VM %s (%s) deleted", row.get("name"), vm._moId)
        removed.append(vm._moId)
    return removed


# --- anti-affinity rules ----------------------------------------------------------------------------


def _rules(si, cluster):
    config = _read(si, cluster, ["configurationEx"]).get("configurationEx")
    return list(getattr(config, "rule", None) or [])


def _reconfigure_rules(si, cluster, rule_spec, what: str, timeout: float) -> None:
    spec = vim.cluster.ConfigSpecEx(rulesSpec=[rule_spec])
    try:
        _run_task(si, cluster.ReconfigureComputeResource_Task(spec, True), what, timeout)
    except vmodl.MethodFault as fault:
        raise BuildError(f"{what} failed: vCenter said {fault_text(fault)}.") from None


def ensure_anti_affinity(si, cluster_moid: str, rule_name: str, vm_moids: list[str], timeout: float = 300.0) -> None:
    """Keep the listed VMs on different hosts: add the rule, or edit it if its VMs differ."""
    cluster = _ref(si, vim.ClusterComputeResource, cluster_moid)
    wanted = sorted(set(vm_moids))
    vms = [_ref(si, vim.VirtualMachine, moid) for moid in wanted]
    existing = next((r for r in _rules(si, cluster) if r.name == rule_name), None)
    if existing is None:
        info = vim.cluster.AntiAffinityRuleSpec(name=rule_name, enabled=True, mandatory=False, vm=vms)
        _reconfigure_rules(si, cluster, vim.cluster.RuleSpec(operation="add", info=info),
                           f"Adding anti-affinity rule '{rule_name}' on cluster {cluster_moid}", timeout)
        return
    if isinstance(existing, vim.cluster.AntiAffinityRuleSpec) and \
            sorted(vm._moId for vm in existing.vm or []) == wanted and existing.enabled:
        return
    info = vim.cluster.AntiAffinityRuleSpec(key=existing.key, name=rule_name, enabled=True, mandatory=False, vm=vms)
    _reconfigure_rules(si, cluster, vim.cluster.RuleSpec(operation="edit", info=info),
                       f"Updating anti-affinity rule '{rule_name}' on cluster {cluster_moid}", timeout)


def remove_rule(si, cluster_moid: str, rule_name: str, timeout: float = 300.0) -> bool:
    """Remove the cluster rule with this name; False if there was none."""
    cluster = _ref(si, vim.ClusterComputeResource, cluster_moid)
    existing = next((r for r in _rules(si, cluster) if r.name == rule_name), None)
    if existing is None:
        return False
    _reconfigure_rules(si, cluster, vim.cluster.RuleSpec(operation="remove", removeKey=existing.key),
                       f"Removing rule '{rule_name}' from cluster {cluster_moid}", timeout)
    return True
