"""The hand-written parallel pyvmomi deployment that benchmarks/deploy.py measures the engine against.

What a competent administrator would write: look the objects up by name once, then the vCenter calls
the engine makes, in the same dependency order, with a thread pool bounded by the per-vCenter limit
(and the engine's placement: the cluster's usable hosts by name, round robin, at most `per_host`
clones landing on one host at a time). One session per thread; every task waited for with
WaitForUpdatesEx on a private collector, as the engine does (the simulator's update notifications
tick every 250 ms; polling would not be faster). Differences, each in the script's favour: no
look-before-create reads (it knows it starts from nothing), the NIC change is built once for every
clone, and the anti-affinity rules go in one cluster reconfigure (the engine makes one per rule).
Only the login (certificate-pinned: no unverified TLS anywhere) and the OVA import come from the
project's client; the import makes the calls a script would make (CreateImportSpec, ImportVApp, the
lease, the disk upload, HttpNfcLeaseComplete, a ReconfigVM_Task tag, MarkAsTemplate).
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from pyVmomi import vim, vmodl

PC = vmodl.query.PropertyCollector
TOOLS_RUNNING = "guestToolsRunning"


class HandWritten:
    def __init__(self, sim, spec, plan, ova_path, threads: int, per_host: int, tag: str = "bench-script"):
        self.sim, self.spec, self.plan, self.ova_path, self.tag = sim, spec, plan, ova_path, tag
        self.threads, self.per_host = threads, per_host
        self.ops: list[tuple[str, float]] = []  # (step kind, seconds) of every operation
        self.moids: dict[str, str] = {}  # VM name -> moid
        self._local = threading.local()
        self._sessions: list = []
        self._lock = threading.Lock()

    # --- sessions and reading ----------------------------------------------------------------

    def session(self):
        """(si, content) of this thread, logging in on first use."""
        if not hasattr(self._local, "si"):
            from inventory.clients.vsphere import connect

            si = connect(self.sim.host, self.sim.port, self.sim.username, self.sim.password, self.sim.fingerprint)
            self._local.si, self._local.content = si, si.RetrieveContent()
            with self._lock:
                self._sessions.append(si)
        return self._local.si, self._local.content

    def ref(self, obj):
        """The same object, bound to this thread's session."""
        si, _ = self.session()
        return type(obj)(obj._moId, si._stub)

    def find(self, vimtype, names: set[str] | None, paths: list[str]) -> dict[str, dict]:
        """{name: {path: value, "_obj": object}} for the objects of one type with these names (None: all)."""
        _, content = self.session()
        view = content.viewManager.CreateContainerView(content.rootFolder, [vimtype], True)
        try:
            spec = PC.FilterSpec(
                objectSet=[PC.ObjectSpec(obj=view, skip=True, selectSet=[
                    PC.TraversalSpec(name="v", path="view", skip=False, type=vim.view.ContainerView)])],
                propSet=[PC.PropertySpec(type=vimtype, pathSet=["name", *paths], all=False)])
            result = content.propertyCollector.RetrievePropertiesEx([spec], PC.RetrieveOptions())
        finally:
            view.DestroyView()
        rows = {}
        for obj in result.objects if result else []:
            row = {p.name: p.val for p in obj.propSet}
            if names is None or row["name"] in names:
                rows[row["name"]] = dict(row, _obj=obj.obj)
        missing = (names or set()) - rows.keys()
        if missing:
            raise RuntimeError(f"not in vCenter: {sorted(missing)}")
        return rows

    def watch(self, obj, paths: list[str], done) -> dict:
        """Wait (WaitForUpdatesEx on a private collector) until done(values) holds; return the values."""
        _, content = self.session()
        collector = content.propertyCollector.CreatePropertyCollector()
        try:
            collector.CreateFilter(PC.FilterSpec(objectSet=[PC.ObjectSpec(obj=obj)],
                                                 propSet=[PC.PropertySpec(type=type(obj), pathSet=paths)]), True)
            values, version, deadline = {}, "", time.monotonic() + 600
            while time.monotonic() < deadline:
                update = collector.WaitForUpdatesEx(version, PC.WaitOptions(maxWaitSeconds=60))
                if update is None:
                    continue
                version = update.version
                for filter_set in update.filterSet:
                    for change_set in filter_set.objectSet:
                        values.update({c.name: c.val for c in change_set.changeSet})
                if done(values):
                    return values
            raise RuntimeError(f"{obj._moId}: still waiting after 600 s ({values})")
        finally:
            collector.Destroy()

    def wait(self, task, what: str):
        state = self.watch(task, ["info.state", "info.error", "info.result"],
                           lambda v: v.get("info.state") in ("success", "error"))
        if state["info.state"] == "error":
            raise RuntimeError(f"{what} failed: {state.get('info.error')}")
        return state.get("info.result")

    def timed(self, kind: str, call, *args):
        started = time.monotonic()
        result = call(*args)
        with self._lock:
            self.ops.append((kind, time.monotonic() - started))
        return result

    # --- the deployment ----------------------------------------------------------------------

    def run(self) -> dict[str, float]:
        """Deploy; returns the monotonic time at which each phase was over."""
        phases = {}
        self.look_up()
        with ThreadPoolExecutor(self.threads) as pool:
            template = pool.submit(self.timed, "import_ova", self.import_ova)
            folders = pool.submit(self.timed, "folders", self.folder_and_pool)
            self.template, (self.folder, self.pool) = template.result(), folders.result()
            phases["import"] = time.monotonic()
            self.nic = self.nic_change()
            list(pool.map(self.clone_and_customize, self.plan.vms))
            phases["customized"] = time.monotonic()
            self.timed("anti_affinity", self.anti_affinity)
            phases["anti_affinity"] = time.monotonic()
            list(pool.map(self.power_on_and_wait, self.plan.vms))
            phases["guests"] = time.monotonic()
        for si in self._sessions:
            si.content.sessionManager.Logout()
        return phases

    def look_up(self) -> None:
        spec = self.spec
        self.dc = self.find(vim.Datacenter, {spec.datacenter}, ["vmFolder"])[spec.datacenter]
        self.cluster = self.find(vim.ClusterComputeResource, {spec.management_cluster},
                                 ["resourcePool", "host"])[spec.management_cluster]
        self.datastores = self.find(vim.Datastore, {vm.datastore for vm in self.plan.vms}, [])
        portgroup = spec.management_network.portgroup
        self.network = self.find(vim.dvs.DistributedVirtualPortgroup, {portgroup},
                                 ["key", "config.distributedVirtualSwitch"])[portgroup]
        switch = self.network["config.distributedVirtualSwitch"]._moId
        self.switch_uuid = next(row["uuid"] for row in self.find(vim.DistributedVirtualSwitch, None, ["uuid"]).values()
                                if row["_obj"]._moId == switch)
        members = {h._moId for h in self.cluster["host"]}
        hosts = self.find(vim.HostSystem, None,
                          ["runtime.connectionState", "runtime.powerState", "runtime.inMaintenanceMode"])
        usable = sorted(name for name, h in hosts.items() if h["_obj"]._moId in members
                        and h.get("runtime.connectionState") == "connected"
                        and h.get("runtime.powerState") == "poweredOn" and not h.get("runtime.inMaintenanceMode"))
        self.placement = {vm.name: hosts[usable[i % len(usable)]]["_obj"]
                          for i, vm in enumerate(self.plan.vms)} if usable else {}
        self.host_slots = {hosts[name]["_obj"]._moId: threading.Semaphore(self.per_host) for name in usable}

    def import_ova(self):
        from inventory.clients.tls import pinned_context
        from inventory.clients.vsphere_ova import import_ova

        si, _ = self.session()
        moid = import_ova(si, self.ova_path, datacenter=self.ref(self.dc["_obj"]),
                          resource_pool=self.ref(self.cluster["resourcePool"]),
                          datastore=self.ref(self.datastores[self.plan.vms[0].datastore]["_obj"]),
                          network_mapping={"VM Network": self.ref(self.network["_obj"])},
                          name=f"{self.tag}-template", tags={"vio-manager.deployment": self.tag},
                          context=pinned_context(self.sim.host, self.sim.port, self.sim.fingerprint))
        return vim.VirtualMachine(moid, si._stub)

    def folder_and_pool(self):
        share = dict(reservation=0, expandableReservation=True, limit=-1,
                     shares=vim.SharesInfo(level="normal", shares=0))
        folder = self.ref(self.dc["vmFolder"]).CreateFolder(f"vio-{self.tag}")
        pool = self.ref(self.cluster["resourcePool"]).CreateResourcePool(f"vio-{self.tag}", vim.ResourceConfigSpec(
            cpuAllocation=vim.ResourceAllocationInfo(**share), memoryAllocation=vim.ResourceAllocationInfo(**share)))
        return folder, pool

    def nic_change(self):
        """The template's first NIC moved onto the management port group (the same for every clone)."""
        _, content = self.session()
        result = content.propertyCollector.RetrievePropertiesEx([PC.FilterSpec(
            objectSet=[PC.ObjectSpec(obj=self.ref(self.template))],
            propSet=[PC.PropertySpec(type=vim.VirtualMachine, pathSet=["config.hardware.device"])])],
            PC.RetrieveOptions())
        nic = next(d for d in result.objects[0].propSet[0].val if isinstance(d, vim.vm.device.VirtualEthernetCard))
        nic.backing = vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo(
            port=vim.dvs.PortConnection(switchUuid=self.switch_uuid, portgroupKey=self.network["key"]))
        nic.connectable = vim.vm.device.VirtualDevice.ConnectInfo(startConnected=True, allowGuestControl=True,
                                                                  connected=False)
        return vim.vm.device.VirtualDeviceSpec(operation="edit", device=nic)

    def clone_and_customize(self, planned):
        moid = self.timed("clone", self.clone, planned)
        self.timed("customize", self.customize, moid, planned)

    def clone(self, planned) -> str:
        host = self.placement.get(planned.name)
        if host is None:
            return self._clone(planned, None)
        with self.host_slots[host._moId]:
            return self._clone(planned, host)

    def _clone(self, planned, host) -> str:
        tags = {"vio-manager.deployment": self.tag, "vio-manager.role": planned.role,
                "SET.guest.toolsRunningStatus": TOOLS_RUNNING}  # the simulator's guest reports Tools running
        spec = vim.vm.CloneSpec(
            location=vim.vm.RelocateSpec(pool=self.ref(self.pool),
                                         datastore=self.ref(self.datastores[planned.datastore]["_obj"]),
                                         host=self.ref(host) if host is not None else None),
            config=vim.vm.ConfigSpec(extraConfig=[vim.option.OptionValue(key=k, value=v) for k, v in tags.items()],
                                     deviceChange=[self.nic]),
            powerOn=False, template=False)
        task = self.ref(self.template).CloneVM_Task(folder=self.ref(self.folder), name=planned.name, spec=spec)
        return self.wait(task, f"clone {planned.name}")._moId

    def customize(self, moid: str, planned) -> None:
        network = self.spec.management_network
        dns = [str(d) for d in network.dns_servers]
        custom = vim.vm.customization
        spec = custom.Specification(
            identity=custom.LinuxPrep(hostName=custom.FixedName(name=planned.name), domain=""),
            globalIPSettings=custom.GlobalIPSettings(dnsServerList=dns, dnsSuffixList=[]),
            nicSettingMap=[custom.AdapterMapping(adapter=custom.IPSettings(
                ip=custom.FixedIp(ipAddress=planned.management_ip), subnetMask=str(network.netmask),
                gateway=[str(network.gateway)], dnsServerList=dns))])
        si, _ = self.session()
        vm = vim.VirtualMachine(moid, si._stub)
        self.wait(vm.CustomizeVM_Task(spec), f"customize {planned.name}")
        tag = vim.option.OptionValue(key="vio-manager.customized", value=planned.management_ip)
        self.wait(vm.ReconfigVM_Task(vim.vm.ConfigSpec(extraConfig=[tag])), f"tag {planned.name}")
        self.moids[planned.name] = moid

    def anti_affinity(self) -> None:
        """Every rule in one cluster reconfigure."""
        if not self.plan.anti_affinity:
            return
        si, _ = self.session()
        rules = [vim.cluster.RuleSpec(operation="add", info=vim.cluster.AntiAffinityRuleSpec(
            name=rule, enabled=True, mandatory=False, vm=[vim.VirtualMachine(self.moids[n], si._stub) for n in names]))
            for rule, names in self.plan.anti_affinity.items()]
        task = self.ref(self.cluster["_obj"]).ReconfigureComputeResource_Task(vim.cluster.ConfigSpecEx(rulesSpec=rules),
                                                                              True)
        self.wait(task, "anti-affinity")

    def power_on_and_wait(self, planned) -> None:
        si, _ = self.session()
        vm = vim.VirtualMachine(self.moids[planned.name], si._stub)
        self.timed("power_on", lambda: self.wait(vm.PowerOnVM_Task(), f"power on {planned.name}"))
        self.timed("wait_guest", self.watch, vm, ["guest.ipAddress", "guest.hostName", "guest.toolsRunningStatus"],
                   lambda v: v.get("guest.ipAddress") == planned.management_ip
                   and v.get("guest.toolsRunningStatus") == TOOLS_RUNNING)
