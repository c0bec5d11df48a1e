"""Conformance: an independent client drives the vCenter simulator as it would drive vCenter, and
gets vCenter's answers.

The client is vio-conformance (simulators/conformance, our own Go command built by
`make var/bin/vio-conformance`): it calls vCenter only through govmomi's client library, an
implementation independent of pyvmomi and of the product. Debian ships govmomi's library and
simulator but no govc, hence a client of our own. It verifies the simulator's certificate by its
pinned SHA-256 fingerprint, takes the password from the environment, prints JSON in vSphere's wire
names (see simulators/conformance/encode.go) and exits 1 with vCenter's fault on a refusal.

Every client call whose outcome a test checks is counted (each run of the client, and the pyvmomi
calls of the mixed tests); the total is printed at the end of the module ("conformance: N client
calls checked") and written to var/test/conformance-calls.txt, so the figure can be reported.
"""

import json
import os
import re
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from pyVmomi import vim, vmodl

from inventory.clients.vsphere import collect, disconnect, wait_for_tasks

ROOT = Path(__file__).resolve().parent.parent
CLIENT = Path(os.environ.get("VIO_CONFORMANCE_BINARY", ROOT / "var" / "bin" / "vio-conformance"))
DC = "/VIO-Datacenter"
TEMPLATE = "ubuntu-16.04-vio-template"
CLUSTERS = ["Management", "Edge", "Compute-A", "Compute-B"]
CALLS = {"checked": 0}


@pytest.fixture(scope="module", autouse=True)
def call_count(request):
    yield
    count = CALLS["checked"]
    report = ROOT / "var" / "test" / "conformance-calls.txt"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(f"{count}\n")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # past pytest's output capture, onto the terminal
            reporter.write_line(f"\nconformance: {count} client calls checked (vio-conformance on govmomi, and pyvmomi), "
                                f"see {report.relative_to(ROOT)}")


def checked(n: int = 1) -> None:
    CALLS["checked"] += n


class Client:
    """vio-conformance against one simulator: its URL, user and pinned fingerprint on the command
    line, the password in the environment only."""

    def __init__(self, handle, fingerprint=None):
        if not CLIENT.exists():
            pytest.fail(f"{CLIENT} is missing: build it with `make var/bin/vio-conformance`.")
        self.argv = [str(CLIENT), "-url", handle.url, "-user", handle.username, "-fingerprint", fingerprint or handle.fingerprint]
        self.env = dict(os.environ, VCENTER_PASSWORD=handle.password)
        assert handle.password not in self.argv

    def run(self, *args: str, code: int = 0) -> subprocess.CompletedProcess:
        done = subprocess.run([*self.argv, *args], env=self.env, capture_output=True, text=True, timeout=120)
        checked()
        assert done.returncode == code, f"vio-conformance {' '.join(args)} exited {done.returncode}: {done.stderr or done.stdout}"
        return done

    def json(self, *args: str):
        return json.loads(self.run(*args).stdout)

    def refused(self, *args: str, code: int = 1) -> dict:
        """The error of a refused call: {"fault", "message"[, "task"]}; exit 1 is a vCenter fault."""
        done = self.run(*args, code=code)
        assert done.stdout == "", done.stdout
        return json.loads(done.stderr)["error"]

    def paths(self, *args: str) -> list[str]:
        return [e["path"] for e in self.json(*args)]

    def collect(self, obj: str, *props: str) -> dict:
        return self.json("collect", obj, *props)

    def clone(self, name: str, *args: str) -> dict:
        return self.json("clone", "-vm", TEMPLATE, "-name", name, *args)


@pytest.fixture(scope="module")
def client(vcsim):
    return Client(vcsim)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _moid(ref: str, kind: str) -> str:
    """The id of a "Type:id" reference, checking its type."""
    found, _, moid = ref.partition(":")
    assert found == kind, ref
    return moid


def test_the_client_trusts_only_the_pinned_certificate(vcsim):
    other = "AB:" * 31 + "CD"
    error = Client(vcsim, fingerprint=other).refused("ls", "/", code=3)
    assert error["fault"] == "" and f"pinned {other}" in error["message"] and vcsim.fingerprint in error["message"]
    wrong = Client(vcsim)
    wrong.env["VCENTER_PASSWORD"] = "not-the-password"
    assert wrong.refused("ls", "/")["fault"] == "InvalidLogin"


def test_inventory_listing(client):
    folders = client.json("ls", DC)
    assert sorted(f["path"] for f in folders) == [f"{DC}/datastore", f"{DC}/host", f"{DC}/network", f"{DC}/vm"]
    assert all(f["type"] == "Folder" for f in folders)
    clusters = client.json("ls", f"{DC}/host")
    assert [c["path"] for c in clusters] == [f"{DC}/host/{c}" for c in CLUSTERS]
    assert all(c["type"] == "ClusterComputeResource" and re.fullmatch(r"domain-c\d+", c["id"]) for c in clusters)
    assert client.json("find", "/", "-type", "ClusterComputeResource") == clusters
    hosts = client.paths("find", "/", "-type", "HostSystem")
    assert len(hosts) == 11 and all(re.fullmatch(rf"{DC}/host/[\w-]+/esx-\w+-\d\d\.vio\.local", h) for h in hosts)
    management = client.json("ls", f"{DC}/host/Management")
    assert [m["path"] for m in management] == [f"{DC}/host/Management/esx-mgmt-0{i}.vio.local" for i in (1, 2, 3)] \
        + [f"{DC}/host/Management/Resources"]
    assert [m["type"] for m in management] == ["HostSystem"] * 3 + ["ResourcePool"]
    assert all(re.fullmatch(r"host-\d+", m["id"]) for m in management[:3]) and re.fullmatch(r"resgroup-\d+", management[3]["id"])
    datastores = client.paths("find", "/", "-type", "Datastore")
    assert {f"{DC}/datastore/vio-shared-nfs", f"{DC}/datastore/vio-compute-nfs"} <= set(datastores) and len(datastores) == 13
    networks = {n["path"].rsplit("/", 1)[1]: n for n in client.json("ls", f"{DC}/network")}
    assert {"VM Network", "VIO-DSwitch", "VIO-Management", "VIO-External", "VIO-Data-Trunk"} <= set(networks)
    assert client.paths("find", "/", "-type", "VirtualMachine", "-name", TEMPLATE) == [f"{DC}/vm/{TEMPLATE}"]
    # vCenter's ids and types.
    shapes = {"VIO-DSwitch": ("VmwareDistributedVirtualSwitch", r"dvs-\d+"),
              "VIO-Management": ("DistributedVirtualPortgroup", r"dvportgroup-\d+"), "VM Network": ("Network", r"network-\d+")}
    for name, (kind, shape) in shapes.items():
        assert networks[name]["type"] == kind and re.fullmatch(shape, networks[name]["id"]), networks[name]
    [datacenter] = client.json("ls", "/")
    assert datacenter["type"] == "Datacenter" and re.fullmatch(r"datacenter-\d+", datacenter["id"])
    top = client.json("find", DC, "-type", "Folder", "-maxdepth", "1")
    assert [f"{f['type']}:{re.sub(r'[0-9]+$', '', f['id'])}" for f in top] == \
        ["Folder:group-v", "Folder:group-h", "Folder:group-s", "Folder:group-n"]
    # A ContainerView's type takes its subtypes, and the switch is found by either of its types.
    typed = client.json("find", f"{DC}/network", "-type", "Network")
    assert {n["type"] for n in typed} == {"Network", "DistributedVirtualPortgroup"} and len(typed) == len(networks) - 1
    for kind in ("DistributedVirtualSwitch", "VmwareDistributedVirtualSwitch"):
        assert client.json("find", "/", "-type", kind) == [networks["VIO-DSwitch"]]
    assert client.refused("find", "/", "-type", "NoSuchType") == {
        "fault": "InvalidArgument", "message": "A specified parameter was not correct: type"}


def test_collect_of_what_the_product_reads(client):
    cluster = client.collect(f"{DC}/host/Compute-A", "summary", "host", "resourcePool", "configurationEx")
    assert cluster["summary"]["_type"] == "ClusterComputeResourceSummary"
    assert cluster["summary"]["numHosts"] == 4 and cluster["summary"]["numCpuCores"] == 4 * 24
    assert len(cluster["host"]) == 4 and all(re.fullmatch(r"host-\d+", _moid(h, "HostSystem")) for h in cluster["host"])
    assert re.fullmatch(r"resgroup-\d+", _moid(cluster["resourcePool"], "ResourcePool"))
    assert cluster["configurationEx"]["_type"] == "ClusterConfigInfoEx" and cluster["configurationEx"]["dasConfig"]["enabled"] is True

    host = client.collect(f"{DC}/host/Compute-A/esx-compa-01.vio.local", "summary.hardware", "datastore", "runtime.connectionState")
    assert host["summary.hardware"]["numCpuCores"] == 24 and host["summary.hardware"]["memorySize"] == 256 << 30
    assert host["runtime.connectionState"] == "connected"
    assert all(re.fullmatch(r"datastore-\d+", _moid(d, "Datastore")) for d in host["datastore"]) and len(host["datastore"]) == 3
    assert cluster["host"][0] == f"HostSystem:{client.json('find', f'{DC}/host/Compute-A', '-type', 'HostSystem')[0]['id']}"

    shared = client.collect(f"{DC}/datastore/vio-shared-nfs", "summary", "host")
    assert shared["summary"]["type"] == "NFS" and re.fullmatch(r"ds:///vmfs/volumes/[0-9a-f]{8}-[0-9a-f]{8}/", shared["summary"]["url"])
    assert shared["summary"]["capacity"] == 8 << 40 and len(shared["host"]) == 11
    assert all(m["mountInfo"]["mounted"] and m["mountInfo"]["accessMode"] == "readWrite" for m in shared["host"])
    local = client.collect(f"{DC}/datastore/local-esx-mgmt-01.vio.local", "summary")
    assert local["summary"]["type"] == "VMFS" and re.fullmatch(
        r"ds:///vmfs/volumes/[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{12}/", local["summary"]["url"])

    trunk = client.collect(f"{DC}/network/VIO-Data-Trunk", "config.defaultPortConfig", "config.distributedVirtualSwitch")
    vlan = trunk["config.defaultPortConfig"]["vlan"]
    assert vlan["_type"] == "VmwareDistributedVirtualSwitchTrunkVlanSpec" and vlan["vlanId"] == [{"start": 0, "end": 4094}]
    assert re.fullmatch(r"dvs-\d+", _moid(trunk["config.distributedVirtualSwitch"], "VmwareDistributedVirtualSwitch"))
    switch = client.collect(f"{DC}/network/VIO-DSwitch", "config.maxMtu", "summary.hostMember")
    assert switch["config.maxMtu"] == 9000 and len(switch["summary.hostMember"]) == 11

    template = client.collect(f"{DC}/vm/{TEMPLATE}", "config.template", "config.hardware.numCPU", "runtime.host",
                              "runtime.powerState", "guest.toolsRunningStatus")
    assert template["config.template"] is True and template["config.hardware.numCPU"] == 2
    assert template["runtime.powerState"] == "poweredOff" and template["guest.toolsRunningStatus"] == "guestToolsNotRunning"
    assert client.collect(template["runtime.host"], "name")["name"].endswith(".vio.local")


@pytest.fixture(scope="module")
def ova(tmp_path_factory):
    path = tmp_path_factory.mktemp("ova") / "vio-appliance.ova"
    subprocess.run([str(ROOT / "scripts" / "build-ova.sh"), str(path)], check=True, capture_output=True)
    return path


def test_import_ova_of_the_project_appliance(client, ova):
    name = _name("appliance")
    pool = f"{DC}/host/Management/Resources"
    imported = client.json("import-ova", str(ova), "-name", name, "-pool", pool, "-ds", "vio-shared-nfs", "-net", "VIO-Management")
    assert imported["manifest"] is True and imported["warnings"] == []
    assert [(f["path"], f["manifest"]) for f in imported["files"]] == [("vio-appliance-disk1.vmdk", "verified")]
    [found] = client.json("find", "/", "-type", "VirtualMachine", "-name", name)
    assert found["path"] == f"{DC}/vm/{name}" and imported["vm"] == f"VirtualMachine:{found['id']}"
    assert re.fullmatch(r"vm-\d+", found["id"])

    vm = client.collect(imported["vm"], "config.hardware", "network", "datastore", "resourcePool", "runtime.powerState")
    hardware = vm["config.hardware"]
    assert hardware["numCPU"] == 2 and hardware["memoryMB"] == 4096
    nics = [d for d in hardware["device"] if d.get("macAddress")]
    disks = [d for d in hardware["device"] if "capacityInKB" in d]
    assert len(nics) == 1 and nics[0]["_type"] == "VirtualVmxnet3"
    assert len(disks) == 1 and disks[0]["_type"] == "VirtualDisk" and disks[0]["capacityInKB"] == 64 * 1024
    management = client.json("find", f"{DC}/network", "-type", "Network", "-name", "VIO-Management")[0]
    assert vm["network"] == [f"DistributedVirtualPortgroup:{management['id']}"]  # the OVF's "VM Network", mapped
    assert nics[0]["backing"]["port"]["portgroupKey"] == management["id"]
    assert vm["resourcePool"] == client.collect(f"{DC}/host/Management", "resourcePool")["resourcePool"]
    assert client.collect(vm["datastore"][0], "name") == {"name": "vio-shared-nfs"} and vm["runtime.powerState"] == "poweredOff"
    # The same name again in the same folder: vCenter's DuplicateName, and nothing more is made.
    again = client.refused("import-ova", str(ova), "-name", name, "-pool", pool, "-ds", "vio-shared-nfs")
    assert again == {"fault": "DuplicateName", "message": f"The name '{name}' already exists."}
    assert client.paths("find", "/", "-type", "VirtualMachine", "-name", name) == [f"{DC}/vm/{name}"]


def test_clone_honours_host_datastore_and_pool(client):
    name = _name("clone")
    made = client.clone(name, "-host", "esx-compa-03.vio.local", "-ds", "vio-compute-nfs", "-pool",
                        f"{DC}/host/Compute-A/Resources", "-cpu", "4", "-mem", "8192")
    assert made["state"] == "success" and re.fullmatch(r"task-\d+", _moid(made["task"], "Task"))
    info = client.json("vm-info", name)
    assert info["id"] == made["result"] and info["powerState"] == "poweredOff"
    assert info["host"]["name"] == "esx-compa-03.vio.local" and [d["name"] for d in info["datastores"]] == ["vio-compute-nfs"]
    assert info["pool"]["id"] == client.collect(f"{DC}/host/Compute-A", "resourcePool")["resourcePool"]
    vm = client.collect(made["result"], "runtime.host", "datastore", "config.hardware.numCPU", "config.hardware.memoryMB")
    assert client.collect(vm["runtime.host"], "name")["name"] == "esx-compa-03.vio.local"
    assert client.collect(vm["datastore"][0], "name")["name"] == "vio-compute-nfs"
    assert (vm["config.hardware.numCPU"], vm["config.hardware.memoryMB"]) == (4, 8192)

    # Without a host: a host of the pool's cluster that mounts the datastore, never the template's.
    other = _name("clone-drs")
    client.clone(other, "-ds", "vio-compute-nfs", "-pool", f"{DC}/host/Compute-B/Resources")
    placed = client.json("vm-info", other)
    assert placed["host"]["name"].startswith("esx-compb-") and [d["name"] for d in placed["datastores"]] == ["vio-compute-nfs"]


def test_clone_refusals(client, vcenter_si):
    name = _name("refused")
    management = f"{DC}/host/Management/Resources"
    # A host outside the pool's cluster, asked for with this client and with pyvmomi.
    outside = client.refused("clone", "-vm", TEMPLATE, "-name", name, "-host", "esx-edge-01.vio.local", "-pool", management)
    assert outside["fault"] == "InvalidArgument" and "A specified parameter was not correct: spec.location.host" in outside["message"]
    assert client.json("task-info", outside["task"])["error"]["fault"]["_type"] == "InvalidArgument"
    si = vcenter_si
    template = next(r["_obj"] for r in collect(si, vim.VirtualMachine, ["name"]) if r["name"] == TEMPLATE)
    clusters = {r["name"]: r for r in collect(si, vim.ClusterComputeResource, ["name", "host", "resourcePool"])}
    task = template.CloneVM_Task(folder=template.parent, name=name, spec=vim.vm.CloneSpec(location=vim.vm.RelocateSpec(
        pool=clusters["Management"]["resourcePool"], host=clusters["Edge"]["host"][0])))
    error = wait_for_tasks(si, [task])[task._moId]["info.error"]
    checked(2)
    assert isinstance(error, vmodl.fault.InvalidArgument) and error.msg == outside["message"]

    unmounted = client.refused("clone", "-vm", TEMPLATE, "-name", name, "-host", "esx-mgmt-01.vio.local", "-ds", "vio-compute-nfs",
                               "-pool", management)
    assert unmounted["fault"] == "DatastoreNotWritableOnHost"
    assert unmounted["message"] == "The datastore 'vio-compute-nfs' is not accessible from host 'esx-mgmt-01.vio.local'."
    assert client.json("find", "/", "-type", "VirtualMachine", "-name", name) == []  # nothing half-made

    client.clone(name, "-ds", "vio-shared-nfs", "-pool", management)
    duplicate = client.refused("clone", "-vm", TEMPLATE, "-name", name, "-ds", "vio-shared-nfs", "-pool", management)
    assert duplicate["fault"] == "DuplicateName" and duplicate["message"] == f"The name '{name}' already exists."
    assert client.paths("find", "/", "-type", "VirtualMachine", "-name", name) == [f"{DC}/vm/{name}"]


def test_power_and_customize(client):
    name = _name("custom")
    client.clone(name, "-net", "VIO-Management", "-ds", "vio-shared-nfs", "-pool", f"{DC}/host/Management/Resources")
    assert [n["name"] for n in client.json("vm-info", name)["networks"]] == ["VIO-Management"]
    customized = client.json("customize", "-vm", name, "-hostname", "ctl01", "-domain", "vio.local", "-ip", "10.20.0.11",
                             "-netmask", "255.255.255.0", "-gateway", "10.20.0.1", "-dns", "10.20.0.2")
    assert customized["state"] == "success" and client.json("task-info", customized["task"])["name"] == "CustomizeVM_Task"
    before = client.collect(f"{DC}/vm/{name}", "guest.ipAddress", "config.tools.pendingCustomization")
    assert not before.get("guest.ipAddress") and before["config.tools.pendingCustomization"]
    assert client.json("power", "-on", name)["state"] == "success"
    after = client.collect(f"{DC}/vm/{name}", "runtime.powerState", "guest.ipAddress", "guest.hostName")
    assert after == {"runtime.powerState": "poweredOn", "guest.ipAddress": "10.20.0.11", "guest.hostName": "ctl01"}
    state = "The attempted operation cannot be performed in the current state (Powered on)."
    assert client.refused("power", "-on", name)["message"] == state
    running = client.refused("customize", "-vm", name, "-ip", "10.20.0.12", "-netmask", "255.255.255.0")
    assert running["fault"] == "InvalidPowerState" and running["message"] == state
    failed = client.json("task-info", running["task"])
    assert failed["state"] == "error" and failed["name"] == "CustomizeVM_Task" and failed["error"]["localizedMessage"] == state
    client.json("power", "-off", name)
    assert client.collect(f"{DC}/vm/{name}", "runtime.powerState") == {"runtime.powerState": "poweredOff"}


def test_tasks_and_events_as_vcenter_lists_them(vcsim_factory):
    client = Client(vcsim_factory())  # a fresh simulator: its task list holds this test's tasks only
    name = _name("listed")
    made = client.clone(name, "-ds", "vio-shared-nfs", "-pool", f"{DC}/host/Management/Resources")
    # The newest 3 of the whole inventory, newest first: this call's login, the clone's call's logout
    # (each run of the client is a session of its own), the clone.
    latest = client.json("events", "-n", "3")
    assert [e["_type"] for e in latest] == ["UserLoginSessionEvent", "UserLogoutSessionEvent", "VmClonedEvent"]
    assert [e["key"] for e in latest] == sorted((e["key"] for e in latest), reverse=True)
    assert latest[2]["fullFormattedMessage"] == f"Clone of {TEMPLATE} completed" and latest[2]["vm"]["name"] == name
    events = client.json("events", "-n", "5", f"{DC}/vm/{name}")  # the VM's own, newest first
    assert 0 < len(events) <= 5 and [e["key"] for e in events] == sorted((e["key"] for e in events), reverse=True)
    assert events[0] == latest[2]
    tasks = client.json("tasks", "-n", "50")
    assert [t["name"] for t in tasks].count("CloneVM_Task") == 1 and "CreateVM_Task" not in [t["name"] for t in tasks]
    clone = client.json("task-info", made["task"])
    assert clone == next(t for t in tasks if t["task"] == made["task"])
    assert (clone["state"], clone["name"], clone["entityName"], clone["result"]) == ("success", "CloneVM_Task", TEMPLATE, made["result"])
    # The task's TaskEvent starts its event chain.
    [started] = client.json("events", "-n", "1", "-type", "TaskEvent", f"{DC}/vm/{TEMPLATE}")
    assert started["fullFormattedMessage"] == "Task: Clone virtual machine" and started["chainId"] == clone["eventChainId"]
    assert started["info"]["task"] == made["task"]


def test_an_injected_fault_fires_on_a_delayed_method_through_the_client_and_pyvmomi(vcsim_factory):
    fresh = vcsim_factory("-task-delay", "CloneVM_Task=600,PowerOnVM_Task=600")
    client = Client(fresh)
    pool = f"{DC}/host/Management/Resources"
    fresh.inject(method="CloneVM_Task", fault="InsufficientResourcesFault", count=1)
    started = time.monotonic()
    failed = client.refused("clone", "-vm", TEMPLATE, "-name", "f1", "-ds", "vio-shared-nfs", "-pool", pool)
    assert time.monotonic() - started >= 0.55
    assert failed["fault"] == "InsufficientResourcesFault" and "Insufficient resources" in failed["message"]
    info = client.json("task-info", failed["task"])
    assert info["state"] == "error" and info["error"]["fault"]["_type"] == "InsufficientResourcesFault"
    assert client.json("find", "/", "-type", "VirtualMachine", "-name", "f1") == []
    client.clone("f2", "-ds", "vio-shared-nfs", "-pool", pool)  # the rule was used up

    fresh.inject(method="PowerOnVM_Task", fault="InsufficientFailoverResourcesFault", count=1)
    si = fresh.connect()
    try:
        vm = next(r["_obj"] for r in collect(si, vim.VirtualMachine, ["name"]) if r["name"] == "f2")
        task = vm.PowerOnVM_Task()
        assert task.info.state == "running"
        state = wait_for_tasks(si, [task], timeout=10)[task._moId]
        checked(3)
        assert isinstance(state["info.error"], vim.fault.InsufficientFailoverResourcesFault)
        assert task.info.error.msg == "Insufficient resources to satisfy configured failover level for vSphere HA."
        assert vm.runtime.powerState == "poweredOff"
        checked(2)
    finally:
        disconnect(si)
    started = time.monotonic()  # the rule was used up: the delayed power-on now succeeds
    assert client.json("power", "-on", "f2")["state"] == "success" and time.monotonic() - started >= 0.55
    assert client.collect(f"{DC}/vm/f2", "runtime.powerState") == {"runtime.powerState": "poweredOn"}
