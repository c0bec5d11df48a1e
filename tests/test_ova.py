"""The appliance OVA: scripts/build-ova.sh builds it, inventory.clients.vsphere_ova imports it once."""

import hashlib
import io
import json
import subprocess
import tarfile
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from pyVmomi import vim

from inventory.clients import vsphere_ova
from inventory.clients.tls import context_trusting, fetch_certificate
from inventory.clients.vsphere import collect, disconnect, wait_for_tasks
from inventory.clients.vsphere_ova import (
    OVA_SHA256_KEY,
    ROLE_KEY,
    TEMPLATE_ROLE,
    OvaImportError,
    UploadCertificateRefused,
    find_imported_template,
    import_ova,
    ova_sha256,
)
from simulators.launcher import start_vcsim
from tests.conftest import VcsimHandle
from testkit.ova import build_ova

ROOT = Path(__file__).resolve().parent.parent
OVF_NS = {
    "ovf": "http://schemas.dmtf.org/ovf/envelope/1",
    "rasd": "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData",
    "vssd": "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData",
    "vmw": "http://www.vmware.com/schema/ovf",
}
OVF = "{http://schemas.dmtf.org/ovf/envelope/1}"




@pytest.fixture(scope="session")
def other_ova(tmp_path_factory) -> Path:
    """A different build (another disk content size): another checksum."""
    path = tmp_path_factory.mktemp("ova-other") / "other.ova"
    build_ova(path, OVA_DATA_KB="512")
    return path


@pytest.fixture(scope="module")
def ova_vcsim():
    """A simulator of this module's own: imports add templates, which the shared one must not see."""
    running = start_vcsim()
    yield VcsimHandle(running)
    running.stop()


@pytest.fixture
def si(ova_vcsim):
    si = ova_vcsim.connect()
    yield si
    ova_vcsim.clear_faults()
    disconnect(si)


@pytest.fixture
def pinned(ova_vcsim):
    return context_trusting(fetch_certificate(ova_vcsim.host, ova_vcsim.port).der)


def _by_name(si, kind, name):
    return next(row["_obj"] for row in collect(si, kind, ["name"]) if row["name"] == name)


def _target(si):
    """Where the appliance goes: the Management cluster's pool, a fresh folder, the shared datastore."""
    datacenter = _by_name(si, vim.Datacenter, "VIO-Datacenter")
    cluster = _by_name(si, vim.ClusterComputeResource, "Management")
    pool = collect(si, vim.ClusterComputeResource, ["resourcePool"])
    pool = next(row["resourcePool"] for row in pool if row["_obj"]._moId == cluster._moId)
    folder = datacenter.vmFolder.CreateFolder(f"vio-{uuid.uuid4().hex[:6]}")
    datastore = _by_name(si, vim.Datastore, "vio-shared-nfs")
    network = next(row["_obj"] for row in collect(si, vim.Network, ["name"]) if row["name"] == "VM Network")
    return dict(datacenter=datacenter, resource_pool=pool, folder=folder, datastore=datastore,
                network_mapping={"VM Network": network})


def _vm_rows(si):
    return {row["_obj"]._moId: row for row in collect(
        si, vim.VirtualMachine,
        ["name", "config.template", "config.extraConfig", "config.annotation", "runtime.host", "parent",
         "datastore", "config.hardware", "config.guestId"])}


# --- the build -------------------------------------------------------------------------------------


def test_the_script_builds_a_small_well_formed_ova(appliance_ova, tmp_path):
    assert appliance_ova.stat().st_size < 4 * 2**20
    with tarfile.open(appliance_ova) as archive:
        members = archive.getmembers()
        assert [m.name for m in members] == ["vio-appliance.ovf", "vio-appliance.mf", "vio-appliance-disk1.vmdk"]
        assert all(m.isfile() and m.mtime == 0 and m.uid == 0 for m in members)
        data = {m.name: archive.extractfile(m).read() for m in members}

    manifest = dict(line.split("= ") for line in data["vio-appliance.mf"].decode().splitlines())
    assert manifest == {f"SHA256({name})": hashlib.sha256(data[name]).hexdigest()
                        for name in ("vio-appliance.ovf", "vio-appliance-disk1.vmdk")}

    root = ET.fromstring(data["vio-appliance.ovf"])
    file_ref = root.find("ovf:References/ovf:File", OVF_NS)
    assert file_ref.get(f"{OVF}href") == "vio-appliance-disk1.vmdk"
    assert int(file_ref.get(f"{OVF}size")) == len(data["vio-appliance-disk1.vmdk"])
    system = root.find("ovf:VirtualSystem", OVF_NS)
    assert len(root.findall("ovf:VirtualSystem", OVF_NS)) == 1
    os_section = system.find("ovf:OperatingSystemSection", OVF_NS)
    assert os_section.get(f"{{{OVF_NS['vmw']}}}osType") == "ubuntu64Guest"
    items = {int(i.find("rasd:ResourceType", OVF_NS).text): i for i in system.findall("ovf:VirtualHardwareSection/ovf:Item", OVF_NS)}
    assert items[3].find("rasd:VirtualQuantity", OVF_NS).text == "2"
    assert items[4].find("rasd:VirtualQuantity", OVF_NS).text == "4096"
    assert items[4].find("rasd:AllocationUnits", OVF_NS).text == "byte * 2^20"
    assert items[10].find("rasd:Connection", OVF_NS).text == "VM Network"
    assert items[17].find("rasd:HostResource", OVF_NS).text == "ovf:/disk/vmdisk1"
    networks = [n.get(f"{OVF}name") for n in root.findall("ovf:NetworkSection/ovf:Network", OVF_NS)]
    assert networks == ["VM Network"]
    disk = root.find("ovf:DiskSection/ovf:Disk", OVF_NS)
    assert disk.get(f"{OVF}format").endswith("#streamOptimized")

    vmdk = tmp_path / "disk.vmdk"
    vmdk.write_bytes(data["vio-appliance-disk1.vmdk"])
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(vmdk)], check=True,
                                     capture_output=True, text=True).stdout)
    assert info["format"] == "vmdk"
    assert info["format-specific"]["data"]["create-type"] == "streamOptimized"
    assert int(disk.get(f"{OVF}capacity")) == info["virtual-size"]


def test_the_build_is_reproducible(appliance_ova, tmp_path):
    again = tmp_path / "again.ova"
    seconds = build_ova(again)
    assert ova_sha256(again) == ova_sha256(appliance_ova)
    assert ova_sha256(appliance_ova) == hashlib.sha256(appliance_ova.read_bytes()).hexdigest()
    assert seconds < 30


# --- the import ------------------------------------------------------------------------------------


def test_import_creates_a_tagged_template_where_asked(si, ova_vcsim, pinned, appliance_ova, other_ova, monkeypatch):
    checksum = ova_sha256(appliance_ova)
    assert find_imported_template(si, checksum) is None
    target = _target(si)
    percents = []
    lease_reports = []
    report = vsphere_ova.report_lease_progress
    monkeypatch.setattr(vsphere_ova, "report_lease_progress",
                        lambda lease, percent: (lease_reports.append(percent), report(lease, percent)))

    def slow_progress(percent):  # slow enough that the lease keep-alive timer fires while streaming
        percents.append(percent)
        time.sleep(0.02)

    tags = {OVA_SHA256_KEY: checksum, ROLE_KEY: TEMPLATE_ROLE}
    moid = import_ova(si, appliance_ova, name="vio-appliance-template", tags=tags, progress=slow_progress,
                      context=pinned, chunk_size=64 * 1024, keepalive_seconds=0.05, **target)

    vm = _vm_rows(si)[moid]
    assert vm["name"] == "vio-appliance-template"
    assert vm["config.template"] is True
    # A template belongs to no pool (vCenter clears resourcePool on MarkAsTemplate): its host is
    # one of the chosen pool's cluster.
    assert "resourcePool" not in vm
    cluster_hosts = {h._moId for h in target["resource_pool"].owner.host}
    assert vm["runtime.host"]._moId in cluster_hosts
    assert vm["parent"]._moId == target["folder"]._moId
    assert [ds._moId for ds in vm["datastore"]] == [target["datastore"]._moId]
    assert vm["config.guestId"] == "ubuntu64Guest"
    hardware = vm["config.hardware"]
    assert (hardware.numCPU, hardware.memoryMB) == (2, 4096)
    disks = [d for d in hardware.device if isinstance(d, vim.vm.device.VirtualDisk)]
    nics = [d for d in hardware.device if isinstance(d, vim.vm.device.VirtualEthernetCard)]
    assert len(disks) == 1 and disks[0].backing.fileName.startswith("[vio-shared-nfs] vio-appliance-template/")
    assert len(nics) == 1 and nics[0].backing.deviceName == "VM Network"
    extra = {o.key: o.value for o in vm["config.extraConfig"]}
    assert extra[OVA_SHA256_KEY] == checksum and extra[ROLE_KEY] == TEMPLATE_ROLE
    assert f"{OVA_SHA256_KEY}={checksum}" in vm["config.annotation"]

    # The simulator received the whole disk over /nfc/ (it logs and discards what it gets).
    with tarfile.open(appliance_ova) as archive:
        disk_size = archive.getmember("vio-appliance-disk1.vmdk").size
    time.sleep(0.2)  # the log line is read by a thread
    nfc = [line for line in ova_vcsim.running.stderr_lines if "nfc POST" in line]
    assert nfc and nfc[-1].rstrip().endswith(f"transferred {disk_size} bytes")

    assert percents[0] == 0 and percents[-1] == 100 and len(percents) > 10
    assert percents == sorted(set(percents))  # rising, never repeated
    assert len(lease_reports) >= 3 and lease_reports[-1] == 100  # timer reports, then the final 100
    assert lease_reports[:-1] == sorted(lease_reports[:-1])

    # Importing again is avoided: the same checksum finds the template, another build does not.
    assert find_imported_template(si, checksum) == moid
    assert find_imported_template(si, checksum.upper()) == moid
    assert find_imported_template(si, ova_sha256(other_ova)) is None


def test_a_tagged_vm_that_is_not_a_template_is_not_taken_for_the_import(si, ova_vcsim):
    """A clone carrying the checksum tag (e.g. an appliance VM made from the template) is no template."""
    checksum = hashlib.sha256(b"clone-only").hexdigest()
    rows = collect(si, vim.VirtualMachine, ["name", "config.template"])
    source = next(r["_obj"] for r in rows if r["name"] == "ubuntu-16.04-vio-template")
    target = _target(si)
    spec = vim.vm.CloneSpec(
        location=vim.vm.RelocateSpec(pool=target["resource_pool"]), powerOn=False, template=False,
        config=vim.vm.ConfigSpec(extraConfig=[vim.option.OptionValue(key=OVA_SHA256_KEY, value=checksum)]))
    state = wait_for_tasks(si, [source.CloneVM_Task(folder=target["folder"], name="tagged-clone", spec=spec)])
    clone = next(iter(state.values()))["info.result"]
    extra = {o.key: o.value for o in _vm_rows(si)[clone._moId]["config.extraConfig"]}
    assert extra[OVA_SHA256_KEY] == checksum
    assert find_imported_template(si, checksum) is None


def test_a_refused_import_surfaces_clearly_and_leaves_nothing(si, ova_vcsim, pinned, appliance_ova):
    before = set(_vm_rows(si))
    ova_vcsim.inject(method="ImportVApp", fault="InsufficientResourcesFault", message="not enough memory in pool")
    with pytest.raises(OvaImportError) as caught:
        import_ova(si, appliance_ova, name="vio-refused", tags={OVA_SHA256_KEY: "x"}, context=pinned, **_target(si))
    text = str(caught.value)
    assert "InsufficientResourcesFault" in text and "not enough memory in pool" in text
    assert isinstance(caught.value.__cause__, vim.fault.InsufficientResourcesFault)
    assert set(_vm_rows(si)) == before
    assert find_imported_template(si, "x") is None


def test_a_failed_upload_aborts_the_lease_and_removes_the_half_made_vm(si, ova_vcsim, pinned, appliance_ova,
                                                                        monkeypatch):
    before = set(_vm_rows(si))
    calls = []
    original = vsphere_ova._abort
    monkeypatch.setattr(vsphere_ova, "_abort", lambda lease, cause: (calls.append(cause), original(lease, cause)))

    def failing_progress(percent):
        if percent >= 50:
            raise RuntimeError("stop halfway")

    with pytest.raises(RuntimeError, match="stop halfway"):
        import_ova(si, appliance_ova, name="vio-halfway", tags={OVA_SHA256_KEY: "half"}, context=pinned,
                   progress=failing_progress, chunk_size=64 * 1024, **_target(si))
    assert len(calls) == 1
    assert set(_vm_rows(si)) == before
    assert "vio-halfway" not in {row["name"] for row in _vm_rows(si).values()}
    # Nothing is left on the datastore either: a retry under the same name succeeds.
    moid = import_ova(si, appliance_ova, name="vio-halfway", tags={OVA_SHA256_KEY: "half"}, context=pinned,
                      **_target(si))
    assert find_imported_template(si, "half") == moid


def test_an_upload_to_a_server_with_another_certificate_is_refused(si, vcsim_factory, appliance_ova):
    other = vcsim_factory()
    wrong = context_trusting(fetch_certificate(other.host, other.port).der)
    before = set(_vm_rows(si))
    with pytest.raises(UploadCertificateRefused) as caught:
        import_ova(si, appliance_ova, name="vio-wrong-cert", tags={OVA_SHA256_KEY: "cert"}, context=wrong,
                   **_target(si))
    assert "certificate" in str(caught.value)
    assert set(_vm_rows(si)) == before


def test_an_esxi_upload_host_is_trusted_only_with_the_leases_thumbprint(vcsim_factory):
    other = vcsim_factory()
    der = fetch_certificate(other.host, other.port).der
    url = f"https://{other.host}:{other.port}/nfc/lease/disk-0.vmdk"
    sha1 = hashlib.sha1(der).hexdigest().upper()
    context = vsphere_ova._context_for(url, "127.0.0.1:1", None, ":".join(sha1[i:i + 2] for i in range(0, 40, 2)))
    assert context.verify_mode.name == "CERT_REQUIRED"
    with pytest.raises(UploadCertificateRefused):
        vsphere_ova._context_for(url, "127.0.0.1:1", None, "AB" * 20)
    with pytest.raises(UploadCertificateRefused):
        vsphere_ova._context_for(url, "127.0.0.1:1", None, "")


def test_a_damaged_ova_is_refused_before_vcenter_is_asked(tmp_path, appliance_ova):
    damaged = tmp_path / "damaged.ova"
    with tarfile.open(appliance_ova) as source, tarfile.open(damaged, "w", format=tarfile.USTAR_FORMAT) as target:
        for member in source.getmembers():
            data = source.extractfile(member).read()
            if member.name.endswith(".ovf"):
                data = data.replace(b"4096MB", b"8192MB")
            member.size = len(data)
            target.addfile(member, io.BytesIO(data))
    with pytest.raises(vsphere_ova.OvaFormatError, match="does not match its manifest"):
        vsphere_ova.read_ova(damaged)
    reordered = tmp_path / "reordered.ova"
    with tarfile.open(appliance_ova) as source, tarfile.open(reordered, "w", format=tarfile.USTAR_FORMAT) as target:
        for member in reversed(source.getmembers()):
            target.addfile(member, source.extractfile(member))
    with pytest.raises(vsphere_ova.OvaFormatError, match="first file"):
        vsphere_ova.read_ova(reordered)
