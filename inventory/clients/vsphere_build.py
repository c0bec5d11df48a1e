"""The idempotent vCenter actions of a deployment's bring-up and teardown: folders, pools, clones,
customization, power, guest readiness, anti-affinity rules, removal.

Rules (see DESIGN.md): every function looks before it creates and adopts what is ours. VMs carry the
deployment tag in extraConfig ("vio-manager.deployment" = deployment id, "vio-manager.role");
folders, resource pools and rules cannot carry extraConfig, so they have deterministic names and are
found by name under their parent. Everything is read through the PropertyCollector.

Each action that is a vCenter task has a start_* function that returns the task's moid at once
(or None when there is nothing to do): the engine records it and follows the task with
vsphere.task_outcome across as many short worker tasks as vCenter needs, so a clone of an hour
never holds a worker, and a worker that dies leaves a task the next attempt adopts. The blocking
forms (clone_vm, customize_vm, power_on, ...) start and wait, for scripts and tests. Messages are
for a vSphere administrator and never contain a secret.
"""

import logging
import time

from pyVmomi import vim, vmodl

from inventory.clients.vsphere import WaitTimeout, collect, explain_fault, task_outcome, watching

log = logging.getLogger(__name__)

DEPLOYMENT_KEY = "vio-manager.deployment"
ROLE_KEY = "vio-manager.role"
CUSTOMIZED_KEY = "vio-manager.customized"
# Only the vCenter simulator honours "SET.<property path>" extraConfig keys; a real vCenter stores the
# key as an inert option. Used so the simulated guest reports VMware Tools as running.
SIMULATED_TOOLS_KEY = "SET.guest.toolsRunningStatus"
TOOLS_RUNNING = "guestToolsRunning"
POWERED_ON, POWERED_OFF = vim.VirtualMachinePowerState.poweredOn, vim.VirtualMachinePowerState.poweredOff


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
        raise Gone(f"{_kind(obj)} {obj._moId} no longer exists in vCenter.") from None
    if not result or not result.objects:
        raise Gone(f"{_kind(obj)} {obj._moId} no longer exists in vCenter.")
    return {p.name: p.val for p in result.objects[0].propSet or []}


class Gone(BuildError):
    """The object was deleted in vCenter (or never existed)."""


def exists(si, kind: str, moid: str) -> bool:
    """Whether vCenter still has this object (kind: VirtualMachine, Folder, ResourcePool, ...)."""
    try:
        _read(si, _ref(si, getattr(vim, kind), moid), ["name"])
    except Gone:
        return False
    return True


def existing(si, kinds: set[str]) -> dict[str, dict[str, str]]:
    """{type name: {moid: name} of every object of that type}: one round trip per type, to check many
    recorded objects at once (VirtualMachine, Folder, ResourcePool, ...). The name matters: a vCenter
    rebuilt from scratch hands the same ids to other objects."""
    return {kind: {row["_obj"]._moId: row.get("name", "") for row in collect(si, getattr(vim, kind), ["name"])}
            for kind in kinds}


def _kind(obj) -> str:
    return type(obj).__name__.rsplit(".", 1)[-1]


def _tags(row: dict) -> dict:
    return {option.key: option.value for option in row.get("config.extraConfig") or []}


def _child_by_name(si, kind, parent, name: str):
    """The direct child of `parent` of this type with this name, or None."""
    for row in collect(si, kind, ["name", "parent"], root=parent):
        if row.get("name") == name and row.get("parent") is not None and row["parent"]._moId == parent._moId:
            return row["_obj"]
    return None


def _start(call, what: str) -> str:
    """Start a vCenter task; its moid, or BuildError in vCenter's words when it is refused at once."""
    try:
        return call()._moId
    except vmodl.MethodFault as fault:
        raise BuildError(f"{what}: {explain_fault(fault)}") from None


def wait_task(si, task_moid: str, what: str, timeout: float):
    """Wait for a task (in slices: any length); its result, or BuildError naming `what` in vCenter's words."""
    deadline = time.monotonic() + timeout
    while True:
        outcome = task_outcome(si, task_moid, max(1.0, min(30.0, deadline - time.monotonic())))
        if outcome is not None:
            if not outcome.ok:
                raise BuildError(f"{what} failed: {outcome.error}")
            return outcome.result
        if time.monotonic() >= deadline:
            raise BuildError(f"{what}: vCenter task {task_moid} was still running after {timeout:g} s.")


# --- folders and resource pools -------------------------------------------------------------------


def vm_folder_of(si, datacenter_moid: str):
    folder = _read(si, _ref(si, vim.Datacenter, datacenter_moid), ["vmFolder"]).get("vmFolder")
    if folder is None:  # the id names another kind of object now: vCenter was rebuilt since the last sync
        raise Gone(f"Datacenter {datacenter_moid} is not a datacenter in vCenter any more: the stored "
                   "inventory is out of date. Sync the vCenter, then retry.")
    return folder


def root_pool_of(si, cluster_moid: str):
    root = _read(si, _ref(si, vim.ClusterComputeResource, cluster_moid), ["resourcePool"]).get("resourcePool")
    if root is None:
        raise Gone(f"Cluster {cluster_moid} has no root resource pool in vCenter: the stored inventory may be out of "
                   "date. Sync the vCenter, then retry.")
    return root


def find_folder(si, datacenter_moid: str, name: str) -> str | None:
    found = _child_by_name(si, vim.Folder, vm_folder_of(si, datacenter_moid), name)
    return found._moId if found is not None else None


def find_pool(si, cluster_moid: str, name: str) -> str | None:
    found = _child_by_name(si, vim.ResourcePool, root_pool_of(si, cluster_moid), name)
    return found._moId if found is not None else None


def ensure_folder(si, datacenter_moid: str, name: str) -> str:
    """The moid of the VM folder `name` directly under the datacenter's VM folder; created if missing."""
    vm_folder = vm_folder_of(si, datacenter_moid)
    found = _child_by_name(si, vim.Folder, vm_folder, name)
    if found is not None:
        return found._moId
    try:
        return vm_folder.CreateFolder(name)._moId
    except vim.fault.DuplicateName:  # made meanwhile by someone else: adopt it
        existing = _child_by_name(si, vim.Folder, vm_folder, name)
        if existing is None:
            raise BuildError(f"The folder '{name}' exists but could not be read back.") from None
        return existing._moId
    except vmodl.MethodFault as fault:
        raise BuildError(f"Creating the VM folder '{name}' failed: {explain_fault(fault)}") from None


def ensure_resource_pool(si, cluster_moid: str, name: str) -> str:
    """The moid of resource pool `name` directly under the cluster's root pool; created if missing."""
    root = root_pool_of(si, cluster_moid)
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
        raise BuildError(f"Creating the resource pool '{name}' failed: {explain_fault(fault)}") from None


def start_remove_if_empty(si, kind: str, moid: str) -> str | None:
    """Start destroying an empty folder or resource pool: the task's moid; None when it is already
    gone. BuildError when it still holds something (a folder its children, a pool its VMs or pools):
    nothing of anyone else's is ever removed with it."""
    obj = _ref(si, getattr(vim, kind), moid)
    paths = ["name", "childEntity"] if kind == "Folder" else ["name", "vm", "resourcePool"]
    try:
        row = _read(si, obj, paths)
    except Gone:
        return None
    held = [o._moId for path in paths[1:] for o in row.get(path) or []]
    if held:
        raise BuildError(f"The {'folder' if kind == 'Folder' else 'resource pool'} '{row.get('name')}' ({moid}) "
                         f"still holds {', '.join(held[:5])}{' …' if len(held) > 5 else ''}: not removed. "
                         "Move or delete those objects in vCenter, then retry.")
    return _start(obj.Destroy_Task, f"Removing {row.get('name')} ({moid})")


def remove_folder_if_empty(si, folder_moid: str, timeout: float = 300.0) -> bool:
    """Destroy the folder if it holds nothing; True if it is gone (or was already)."""
    try:
        task = start_remove_if_empty(si, "Folder", folder_moid)
    except BuildError as exc:
        log.info("%s", exc)
        return False
    if task:
        wait_task(si, task, f"Removing folder {folder_moid}", timeout)
    return True


# --- VMs ------------------------------------------------------------------------------------------


def deployment_vms(si, deployment_id: str, extra: list[str] = (), within: str | None = None) -> list[dict]:
    """Rows (name, extraConfig, extra paths, "_obj") of every VM tagged with this deployment."""
    root = _ref(si, vim.Folder, within) if within else None
    rows = collect(si, vim.VirtualMachine, ["name", "config.extraConfig", *extra], root=root)
    return [row for row in rows if _tags(row).get(DEPLOYMENT_KEY) == str(deployment_id)]


def find_vm(si, deployment_id: str, vm_name: str, within: str | None = None) -> str | None:
    """The moid of this deployment's VM called vm_name (by tag and name), or None. within: the
    folder the deployment's VMs are made in; reading only it keeps the look cheap in a vCenter of
    thousands of VMs (teardown still searches everywhere, by tag)."""
    for row in deployment_vms(si, deployment_id, within=within):
        if row.get("name") == vm_name:
            return row["_obj"]._moId
    return None


def start_clone(si, *, template_moid: str, name: str, folder_moid: str, pool_moid: str, datastore_moid: str,
                deployment_id: str, role: str, host_moid: str | None = None, network_moid: str | None = None,
                num_cpus: int | None = None, memory_mb: int | None = None, disk_gb: int | None = None,
                simulated_tools: bool = False) -> str:
    """Start cloning the template into a tagged, powered-off VM of the given size on the given host,
    pool and datastore; returns the clone task's moid.

    network_moid: a port group (standard or distributed) for the VM's first NIC; the template's
    first NIC is moved onto it, or a VMXNET3 NIC is added when the template has none (guest
    customization needs exactly one NIC per fixed-IP setting). disk_gb grows the first disk (never
    shrinks it). simulated_tools: add the extraConfig key only the vCenter simulator honours to
    report VMware Tools as running (tests and the embedded demo); never set against a real vCenter."""
    tags = {DEPLOYMENT_KEY: str(deployment_id), ROLE_KEY: role}
    if simulated_tools:
        tags[SIMULATED_TOOLS_KEY] = TOOLS_RUNNING
    template = _ref(si, vim.VirtualMachine, template_moid)
    config = vim.vm.ConfigSpec(extraConfig=[vim.option.OptionValue(key=k, value=v) for k, v in tags.items()])
    if num_cpus:
        config.numCPUs = num_cpus
    if memory_mb:
        config.memoryMB = memory_mb
    devices = _read(si, template, ["config.hardware.device"]).get("config.hardware.device") or []
    changes = []
    if network_moid:
        changes.append(_nic_change(si, devices, network_moid))
    if disk_gb:
        changes += _disk_growth(devices, disk_gb)
    config.deviceChange = changes
    spec = vim.vm.CloneSpec(
        location=vim.vm.RelocateSpec(pool=_ref(si, vim.ResourcePool, pool_moid),
                                     datastore=_ref(si, vim.Datastore, datastore_moid),
                                     host=_ref(si, vim.HostSystem, host_moid) if host_moid else None),
        config=config, powerOn=False, template=False)
    return _start(lambda: template.CloneVM_Task(folder=_ref(si, vim.Folder, folder_moid), name=name, spec=spec),
                  f"Cloning VM '{name}' (role {role})")


def _disk_growth(devices, disk_gb: int) -> list:
    disk = next((d for d in devices if isinstance(d, vim.vm.device.VirtualDisk)), None)
    wanted = disk_gb * 1024 * 1024
    if disk is None or (disk.capacityInKB or 0) >= wanted:
        return []
    disk.capacityInKB = wanted
    disk.capacityInBytes = wanted * 1024
    return [vim.vm.device.VirtualDeviceSpec(operation="edit", device=disk)]


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


def _nic_change(si, devices, network_moid: str):
    """A device change that puts the clone's first NIC on the network (edit, or add if none)."""
    backing = _backing(si, network_moid)
    nic = next((d for d in devices if isinstance(d, vim.vm.device.VirtualEthernetCard)), None)
    operation = "edit"
    if nic is None:
        nic, operation = vim.vm.device.VirtualVmxnet3(key=-100, addressType="generated"), "add"
    nic.backing = backing
    nic.connectable = vim.vm.device.VirtualDevice.ConnectInfo(startConnected=True, allowGuestControl=True,
                                                              connected=False)
    return vim.vm.device.VirtualDeviceSpec(operation=operation, device=nic)


def remove_half_made(si, deployment_id: str, name: str, folder_moid: str) -> None:
    """Delete what a failed clone of this VM may have left (vCenter can leave a VM behind)."""
    moid = find_vm(si, deployment_id, name, within=folder_moid)
    if moid:
        log.warning("removing VM %s (%s) left by a failed clone", name, moid)
        try:
            destroy_vm(si, moid)
        except BuildError as exc:
            log.warning("could not remove %s: %s", name, exc)


def clone_vm(si, *, name: str, deployment_id: str, folder_moid: str, timeout: float = 600.0, **spec) -> str:
    """Blocking form: adopt this deployment's VM `name` if it exists, else clone it and wait."""
    existing = find_vm(si, deployment_id, name, within=folder_moid)
    if existing:
        return existing
    what = f"Cloning VM '{name}'"
    task = start_clone(si, name=name, deployment_id=deployment_id, folder_moid=folder_moid, **spec)
    try:
        result = wait_task(si, task, what, timeout)
    except BuildError:
        remove_half_made(si, deployment_id, name, folder_moid)
        raise
    if result is None:
        raise BuildError(f"{what} reported success but returned no VM.")
    return result._moId


# --- customization, power, guest --------------------------------------------------------------------


def needs_customization(si, vm_moid: str, ip: str) -> bool:
    """False when the VM is customized with this IP already (our mark); BuildError when it must be
    but cannot be, being powered on (vCenter customizes powered-off VMs only)."""
    row = _read(si, _ref(si, vim.VirtualMachine, vm_moid), ["name", "config.extraConfig", "runtime.powerState"])
    if _tags(row).get(CUSTOMIZED_KEY) == ip:
        return False
    if row.get("runtime.powerState") != POWERED_OFF:
        raise BuildError(f"VM '{row.get('name', vm_moid)}' must be powered off to be customized "
                         f"(it is {row.get('runtime.powerState')}): power it off in vCenter, then retry.")
    return True


def start_customize(si, vm_moid: str, *, hostname: str, ip: str, netmask: str, gateway: str,
                    dns_servers: list[str], domain: str) -> str:
    """Start a Linux guest customization (host name, one NIC with a fixed IP); the task's moid."""
    spec = vim.vm.customization.Specification(
        identity=vim.vm.customization.LinuxPrep(hostName=vim.vm.customization.FixedName(name=hostname),
                                                domain=domain),
        globalIPSettings=vim.vm.customization.GlobalIPSettings(dnsServerList=list(dns_servers),
                                                               dnsSuffixList=[domain] if domain else []),
        nicSettingMap=[vim.vm.customization.AdapterMapping(adapter=vim.vm.customization.IPSettings(
            ip=vim.vm.customization.FixedIp(ipAddress=ip), subnetMask=netmask,
            gateway=[gateway] if gateway else [], dnsServerList=list(dns_servers)))],
    )
    vm = _ref(si, vim.VirtualMachine, vm_moid)
    return _start(lambda: vm.CustomizeVM_Task(spec), f"Customizing VM {vm_moid} as {hostname} ({ip})")


def start_mark_customized(si, vm_moid: str, ip: str) -> str:
    """Record on the VM that it is customized with this IP (so a later attempt does not do it again)."""
    vm = _ref(si, vim.VirtualMachine, vm_moid)
    tag = vim.vm.ConfigSpec(extraConfig=[vim.option.OptionValue(key=CUSTOMIZED_KEY, value=ip)])
    return _start(lambda: vm.ReconfigVM_Task(tag), f"Marking VM {vm_moid} as customized")


def customize_vm(si, vm_moid: str, *, ip: str, timeout: float = 300.0, **settings) -> None:
    """Blocking form: customize once per IP, then mark the VM."""
    if not needs_customization(si, vm_moid, ip):
        return
    wait_task(si, start_customize(si, vm_moid, ip=ip, **settings), f"Customizing VM {vm_moid} ({ip})", timeout)
    wait_task(si, start_mark_customized(si, vm_moid, ip), f"Marking VM {vm_moid} as customized", timeout)


def power_state(si, vm_moid: str) -> str:
    return _read(si, _ref(si, vim.VirtualMachine, vm_moid), ["runtime.powerState"]).get("runtime.powerState")


def start_power_on(si, vm_moid: str) -> str | None:
    """Start powering the VM on; None when it is on already."""
    if power_state(si, vm_moid) == POWERED_ON:
        return None
    vm = _ref(si, vim.VirtualMachine, vm_moid)
    return _start(vm.PowerOnVM_Task, f"Powering on VM {vm_moid}")


def start_power_off(si, vm_moid: str) -> str | None:
    """Start powering the VM off; None when it is off already (or gone)."""
    try:
        if power_state(si, vm_moid) == POWERED_OFF:
            return None
    except Gone:
        return None
    vm = _ref(si, vim.VirtualMachine, vm_moid)
    return _start(vm.PowerOffVM_Task, f"Powering off VM {vm_moid}")


def power_on(si, vm_moid: str, timeout: float = 300.0) -> None:
    """Blocking form; a VM that is on already (or is powered on meanwhile) is what we wanted."""
    task = start_power_on(si, vm_moid)
    if task is None:
        return
    try:
        wait_task(si, task, f"Powering on VM {vm_moid}", timeout)
    except BuildError:
        if power_state(si, vm_moid) != POWERED_ON:
            raise


def guest_ready(si, vm_moid: str, expected_ip: str, budget: float, stop=None) -> dict:
    """Wait at most `budget` seconds (without polling) for the guest to report expected_ip and VMware
    Tools running. Returns {"ip", "hostname", "tools", "ready"}: ready False with what the guest
    reports so far when the budget ran out. WaitStopped soon after the Event `stop` is set."""
    vm = _ref(si, vim.VirtualMachine, vm_moid)
    paths = ["guest.ipAddress", "guest.hostName", "guest.toolsRunningStatus"]
    seen: dict = {}
    try:
        with watching(si, [vm], vim.VirtualMachine, paths, budget, stop=stop) as updates:
            for state in updates:
                seen = state.get(vm_moid, {})
                if seen.get("guest.ipAddress") == expected_ip and seen.get("guest.toolsRunningStatus") == TOOLS_RUNNING:
                    return {"ip": expected_ip, "hostname": seen.get("guest.hostName"), "tools": TOOLS_RUNNING,
                            "ready": True}
    except WaitTimeout:
        pass
    return {"ip": seen.get("guest.ipAddress") or "", "hostname": seen.get("guest.hostName"),
            "tools": seen.get("guest.toolsRunningStatus") or "unknown", "ready": False}


def wait_for_guest(si, vm_moid: str, expected_ip: str, timeout: float = 600.0, stop=None) -> dict:
    """Blocking form; GuestWaitTimeout (a BuildError and a WaitTimeout) when the guest is not up in time."""
    guest = guest_ready(si, vm_moid, expected_ip, timeout, stop)
    if not guest.pop("ready"):
        raise GuestWaitTimeout(
            f"VM {vm_moid} did not come up within {timeout:g} s: it reports IP {guest['ip'] or 'none'} "
            f"(expected {expected_ip}) and VMware Tools {guest['tools']}.")
    return guest


def start_relocate(si, vm_moid: str, host_moid: str) -> str | None:
    """Start moving a VM to another host of its cluster (vMotion: its pool and datastore stay); None
    when it runs there already."""
    vm = _ref(si, vim.VirtualMachine, vm_moid)
    here = _read(si, vm, ["runtime.host"]).get("runtime.host")
    if here is not None and here._moId == host_moid:
        return None
    spec = vim.vm.RelocateSpec(host=_ref(si, vim.HostSystem, host_moid))
    return _start(lambda: vm.RelocateVM_Task(spec), f"Moving VM {vm_moid} to host {host_moid}")


def start_destroy_vm(si, vm_moid: str) -> str | None:
    """Start deleting a powered-off VM (or template); None when it is gone already."""
    if not exists(si, "VirtualMachine", vm_moid):
        return None
    return _start(_ref(si, vim.VirtualMachine, vm_moid).Destroy_Task, f"Deleting VM {vm_moid}")


def destroy_vm(si, vm_moid: str, timeout: float = 300.0) -> None:
    """Blocking form: power off, then delete."""
    task = start_power_off(si, vm_moid)
    if task:
        try:
            wait_task(si, task, f"Powering off VM {vm_moid}", timeout)
        except BuildError:
            if exists(si, "VirtualMachine", vm_moid) and power_state(si, vm_moid) != POWERED_OFF:
                raise
    task = start_destroy_vm(si, vm_moid)
    if task:
        try:
            wait_task(si, task, f"Deleting VM {vm_moid}", timeout)
        except BuildError:
            if exists(si, "VirtualMachine", vm_moid):
                raise


def destroy_deployment_vms(si, deployment_id: str) -> list[str]:
    """Blocking form: power off and delete every VM tagged with this deployment; the moids deleted."""
    removed = []
    for row in deployment_vms(si, deployment_id):
        destroy_vm(si, row["_obj"]._moId)
        log.info("VM %s (%s) deleted", row.get("name"), row["_obj"]._moId)
        removed.append(row["_obj"]._moId)
    return removed


# --- anti-affinity rules ----------------------------------------------------------------------------


def rules(si, cluster_moid: str) -> dict[str, object]:
    """{rule name: rule} of the cluster."""
    config = _read(si, _ref(si, vim.ClusterComputeResource, cluster_moid), ["configurationEx"]).get("configurationEx")
    return {rule.name: rule for rule in getattr(config, "rule", None) or []}


def _reconfigure_rules(si, cluster_moid: str, rule_spec, what: str) -> str:
    cluster = _ref(si, vim.ClusterComputeResource, cluster_moid)
    spec = vim.cluster.ConfigSpecEx(rulesSpec=[rule_spec])
    return _start(lambda: cluster.ReconfigureComputeResource_Task(spec, True), what)


def start_anti_affinity(si, cluster_moid: str, rule_name: str, vm_moids: list[str]) -> str | None:
    """Start making the rule that keeps the listed VMs on different hosts (add it, or edit it if its
    VMs differ or it is disabled); None when it is right already."""
    wanted = sorted(set(vm_moids))
    vms = [_ref(si, vim.VirtualMachine, moid) for moid in wanted]
    existing = rules(si, cluster_moid).get(rule_name)
    if existing is None:
        info = vim.cluster.AntiAffinityRuleSpec(name=rule_name, enabled=True, mandatory=False, vm=vms)
        return _reconfigure_rules(si, cluster_moid, vim.cluster.RuleSpec(operation="add", info=info),
                                  f"Adding anti-affinity rule '{rule_name}' on cluster {cluster_moid}")
    if isinstance(existing, vim.cluster.AntiAffinityRuleSpec) and \
            sorted(vm._moId for vm in existing.vm or []) == wanted and existing.enabled:
        return None
    info = vim.cluster.AntiAffinityRuleSpec(key=existing.key, name=rule_name, enabled=True, mandatory=False, vm=vms)
    return _reconfigure_rules(si, cluster_moid, vim.cluster.RuleSpec(operation="edit", info=info),
                              f"Updating anti-affinity rule '{rule_name}' on cluster {cluster_moid}")


def start_rule_removal(si, cluster_moid: str, rule_name: str) -> str | None:
    """Start removing the cluster rule with this name; None when there is none."""
    existing = rules(si, cluster_moid).get(rule_name)
    if existing is None:
        return None
    return _reconfigure_rules(si, cluster_moid, vim.cluster.RuleSpec(operation="remove", removeKey=existing.key),
                              f"Removing rule '{rule_name}' from cluster {cluster_moid}")


def ensure_anti_affinity(si, cluster_moid: str, rule_name: str, vm_moids: list[str], timeout: float = 300.0) -> None:
    task = start_anti_affinity(si, cluster_moid, rule_name, vm_moids)
    if task:
        wait_task(si, task, f"Anti-affinity rule '{rule_name}'", timeout)


def remove_rule(si, cluster_moid: str, rule_name: str, timeout: float = 300.0) -> bool:
    """Remove the cluster rule with this name; False if there was none."""
    task = start_rule_removal(si, cluster_moid, rule_name)
    if task is None:
        return False
    wait_task(si, task, f"Removing rule '{rule_name}'", timeout)
    return True


# --- what is left -------------------------------------------------------------------------------------


def leftovers(si, deployment_id: str, *, datacenter_moid: str | None, cluster_moid: str | None,
              folder_name: str, pool_name: str, rule_names: list[str]) -> list[str]:
    """Everything of this deployment still in vCenter, each named for people: its tagged VMs, its
    folder, its resource pool, its rules. Empty after a complete teardown."""
    left = [f"VM {row.get('name')} ({row['_obj']._moId})" for row in deployment_vms(si, deployment_id)]
    if datacenter_moid:
        folder = find_folder(si, datacenter_moid, folder_name)
        if folder:
            left.append(f"folder {folder_name} ({folder})")
    if cluster_moid:
        pool = find_pool(si, cluster_moid, pool_name)
        if pool:
            left.append(f"resource pool {pool_name} ({pool})")
        present = rules(si, cluster_moid)
        left += [f"rule {name}" for name in rule_names if name in present]
    return left


# --- the custom attribute that names the deployment (what vSphere Client users see) ---------------

DEPLOYMENT_FIELD = "VIO Manager deployment"


def deployment_field_key(si, kind: str) -> int:
    """The key of the custom attribute "VIO Manager deployment" of this object type (VirtualMachine,
    Folder, ResourcePool: one definition per type, as the vSphere Client's "Custom Attributes" lists
    them); defined when missing."""
    manager, mo_type = si.content.customFieldsManager, getattr(vim, kind)

    def find():
        for field in _read(si, manager, ["field"]).get("field") or []:
            if field.name == DEPLOYMENT_FIELD and field.managedObjectType is mo_type:
                return field.key
        return None

    key = find()
    if key is not None:
        return key
    try:
        return manager.AddCustomFieldDef(name=DEPLOYMENT_FIELD, moType=mo_type).key
    except vim.fault.DuplicateName:  # defined meanwhile by another worker: use it
        key = find()
        if key is None:
            raise BuildError(f"The custom attribute '{DEPLOYMENT_FIELD}' exists but could not be read back.") from None
        return key
    except vmodl.MethodFault as fault:
        raise BuildError(f"Defining the custom attribute '{DEPLOYMENT_FIELD}' failed: {explain_fault(fault)}") from None


def set_deployment_attribute(si, kind: str, moid: str, value: str) -> bool:
    """Set "VIO Manager deployment" = value on a VM, folder or resource pool unless it already says
    so (idempotent: set again when missing or different). True when it was set now."""
    key = deployment_field_key(si, kind)
    entity = _ref(si, getattr(vim, kind), moid)
    current = {v.key: getattr(v, "value", None) for v in _read(si, entity, ["customValue"]).get("customValue") or []}
    if current.get(key) == value:
        return False
    try:
        si.content.customFieldsManager.SetField(entity=entity, key=key, value=value)
    except vmodl.MethodFault as fault:
        raise BuildError(f"Marking {kind} {moid} with '{DEPLOYMENT_FIELD}' failed: {explain_fault(fault)}") from None
    return True
