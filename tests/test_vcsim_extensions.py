"""The simulator's ExtensionManager and custom attributes, as vCenter has them (pyvmomi).

govmomi 0.24.2's simulator has no ExtensionManager (extensionList empty, FindExtension
MethodNotFound) and a CustomFieldsManager with gaps (see simulators/README.md); the harness adds
and fixes them (simulators/vcsim/extensions.go, customfields.go).
"""

import datetime
import http.client
import uuid

import pytest
from pyVmomi import vim, vmodl

from inventory.clients.vsphere import collect, disconnect, wait_for_tasks
from simulators.launcher import start_vcsim
from tests.conftest import VcsimHandle


def _extension(key: str, url: str = "https://vio.example.test:443/", thumbprint: str = "AA:BB", version: str = "1.0.0"):
    label = vim.Description(label="VIO Manager", summary="VMware Integrated OpenStack Manager")
    return vim.Extension(
        key=key, version=version, company="VMware, Inc.", type="vio-manager", description=label,
        server=[vim.Extension.ServerInfo(url=url, description=label, company="VMware, Inc.", type="HTTPS",
                                         adminEmail=["vio-admin@example.test"], serverThumbprint=thumbprint)],
        client=[vim.Extension.ClientInfo(url=url + "plugin.zip", version=version, description=label,
                                         company="VMware, Inc.", type="vsphere-client-serenity")],
        lastHeartbeatTime=datetime.datetime.now(datetime.timezone.utc), shownInSolutionManager=True)


def _extension_list(si) -> list:
    """extensionList read through the PropertyCollector (RetrievePropertiesEx), not attribute access."""
    manager = si.content.extensionManager
    spec = vmodl.query.PropertyCollector.FilterSpec(
        objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=manager)],
        propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim.ExtensionManager, pathSet=["extensionList"])])
    result = si.content.propertyCollector.RetrievePropertiesEx([spec], vmodl.query.PropertyCollector.RetrieveOptions())
    props = {p.name: p.val for p in result.objects[0].propSet} if result and result.objects else {}
    return list(props.get("extensionList", []))


def _soap(vcsim, si, payload: str) -> tuple[int, str]:
    """POST one SOAP call in the session of si (what a client other than pyvmomi may send)."""
    envelope = ('<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>' + payload + "</soapenv:Body></soapenv:Envelope>")
    conn = http.client.HTTPSConnection(vcsim.host, vcsim.port, context=vcsim._context, timeout=10)
    try:
        conn.request("POST", "/sdk", envelope.encode(), {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "urn:vim25/6.5",
                                                         "Cookie": getattr(si._stub, "soapStub", si._stub).cookie})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


@pytest.fixture
def key():
    return f"com.vmware.vio.test-{uuid.uuid4().hex[:8]}"


def test_register_find_list_and_another_session(vcsim, vcenter_si, key):
    manager = vcenter_si.content.extensionManager
    assert manager.FindExtension(key) is None  # unset, no fault: vCenter's answer for an unknown key
    manager.RegisterExtension(_extension(key))

    found = manager.FindExtension(key)
    assert found.key == key and found.version == "1.0.0" and found.company == "VMware, Inc." and found.type == "vio-manager"
    assert (found.description.label, found.description.summary) == ("VIO Manager", "VMware Integrated OpenStack Manager")
    server = found.server[0]
    assert (server.url, server.type, list(server.adminEmail), server.serverThumbprint) == (
        "https://vio.example.test:443/", "HTTPS", ["vio-admin@example.test"], "AA:BB")
    assert (found.client[0].url, found.client[0].version, found.client[0].type) == (
        "https://vio.example.test:443/plugin.zip", "1.0.0", "vsphere-client-serenity")
    assert found.shownInSolutionManager is True and found.lastHeartbeatTime is not None

    assert key in {e.key for e in _extension_list(vcenter_si)}
    assert key in {e.key for e in manager.extensionList}  # pyvmomi attribute access (Fetch)

    # Registrations belong to vCenter: a new session sees them.
    other = vcsim.connect()
    try:
        assert other.content.extensionManager.FindExtension(key).server[0].serverThumbprint == "AA:BB"
        assert key in {e.key for e in _extension_list(other)}
    finally:
        disconnect(other)
    manager.UnregisterExtension(key)


def test_update_changes_url_and_thumbprint(vcsim, vcenter_si, key):
    manager = vcenter_si.content.extensionManager
    manager.RegisterExtension(_extension(key))
    manager.UpdateExtension(_extension(key, url="https://vio-new.example.test:8443/", thumbprint="CC:DD", version="1.1.0"))

    found = manager.FindExtension(key)
    assert (found.version, found.server[0].url, found.server[0].serverThumbprint) == ("1.1.0", "https://vio-new.example.test:8443/", "CC:DD")
    listed = [e for e in _extension_list(vcenter_si) if e.key == key]
    assert len(listed) == 1 and listed[0].server[0].serverThumbprint == "CC:DD"
    other = vcsim.connect()
    try:
        assert other.content.extensionManager.FindExtension(key).server[0].url == "https://vio-new.example.test:8443/"
    finally:
        disconnect(other)
    manager.UnregisterExtension(key)


def test_unregister_removes_it_everywhere(vcenter_si, key):
    manager = vcenter_si.content.extensionManager
    manager.RegisterExtension(_extension(key))
    manager.UnregisterExtension(key)
    assert manager.FindExtension(key) is None
    assert key not in {e.key for e in _extension_list(vcenter_si)}
    # Registered again after removal: a fresh record.
    manager.RegisterExtension(_extension(key, version="2.0.0"))
    assert manager.FindExtension(key).version == "2.0.0"
    manager.UnregisterExtension(key)


def test_the_faults_vcenter_gives(vcsim, vcenter_si, key):
    manager = vcenter_si.content.extensionManager
    with pytest.raises(vim.fault.NotFound):
        manager.UpdateExtension(_extension(key))
    with pytest.raises(vim.fault.NotFound):
        manager.UnregisterExtension(key)
    manager.RegisterExtension(_extension(key))
    try:
        with pytest.raises(vmodl.fault.InvalidArgument) as caught:
            manager.RegisterExtension(_extension(key))  # already registered
        assert caught.value.invalidProperty == "extension.key"
        assert "extension.key" in caught.value.msg
        # The WSDL's required properties: pyvmomi will not send a data object without them, other
        # clients may; vCenter refuses it.
        status, body = _soap(vcsim, vcenter_si, f"""<UpdateExtension xmlns="urn:vim25">
            <_this type="ExtensionManager">ExtensionManager</_this><extension><description><label>x</label><summary>x</summary></description>
            <key>{key}</key><version>9.9</version></extension></UpdateExtension>""")
        assert status == 500 and "InvalidRequest" in body and "lastHeartbeatTime" in body
        assert manager.FindExtension(key).version == "1.0.0"  # refused updates changed nothing
    finally:
        manager.UnregisterExtension(key)


def test_a_collector_waiting_for_updates_sees_the_registration(vcenter_si, key):
    manager = vcenter_si.content.extensionManager
    collector = vcenter_si.content.propertyCollector.CreatePropertyCollector()
    try:
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=manager)],
            propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim.ExtensionManager, pathSet=["extensionList"])])
        collector.CreateFilter(spec, partialUpdates=False)
        options = vmodl.query.PropertyCollector.WaitOptions(maxWaitSeconds=5)
        first = collector.WaitForUpdatesEx("", options)
        manager.RegisterExtension(_extension(key))
        update = collector.WaitForUpdatesEx(first.version, options)
        assert update is not None
        changes = [c for fs in update.filterSet for o in fs.objectSet for c in o.changeSet]
        assert any(c.name == "extensionList" and key in {e.key for e in c.val} for c in changes)
    finally:
        collector.DestroyPropertyCollector()
        manager.UnregisterExtension(key)


# --- custom attributes -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def fresh_vcsim():
    """Custom field definitions are global to a vCenter: these tests get a simulator of their own."""
    running = start_vcsim()
    yield VcsimHandle(running)
    running.stop()


@pytest.fixture
def fresh_si(fresh_vcsim):
    si = fresh_vcsim.connect()
    yield si
    disconnect(si)


def _made_objects(si):
    template = next(r["_obj"] for r in collect(si, vim.VirtualMachine, ["config.template"]) if r.get("config.template"))
    cluster = next(r["_obj"] for r in collect(si, vim.ClusterComputeResource, ["name"]) if r["name"] == "Compute-A")
    folder = template.parent.CreateFolder(f"vio-{uuid.uuid4().hex[:6]}")
    pool = cluster.resourcePool.CreateResourcePool(f"vio-pool-{uuid.uuid4().hex[:6]}", vim.ResourceConfigSpec(
        cpuAllocation=vim.ResourceAllocationInfo(reservation=0, limit=-1, expandableReservation=True, shares=vim.SharesInfo(level="normal")),
        memoryAllocation=vim.ResourceAllocationInfo(reservation=0, limit=-1, expandableReservation=True, shares=vim.SharesInfo(level="normal"))))
    return template, folder, pool


def _clone(si, template, folder, pool, name):
    spec = vim.vm.CloneSpec(location=vim.vm.RelocateSpec(pool=pool), powerOn=False, template=False)
    task = template.CloneVM_Task(folder=folder, name=name, spec=spec)
    return wait_for_tasks(si, [task])[task._moId]["info.result"]


def _values(si, obj_type, obj) -> dict:
    """customValue and value of one object, read through the PropertyCollector: {key: value}."""
    row = next(r for r in collect(si, obj_type, ["customValue", "value", "availableField"]) if r["_obj"] == obj)
    custom = {v.key: v.value for v in row.get("customValue", [])}
    assert custom == {v.key: v.value for v in row.get("value", [])}
    return custom, {f.name: f for f in row.get("availableField", [])}


def test_custom_attributes_on_vms_folders_and_pools(fresh_si):
    si = fresh_si
    fields = si.content.customFieldsManager
    template, folder, pool = _made_objects(si)
    vm_field = fields.AddCustomFieldDef(name="vio-deployment", moType=vim.VirtualMachine)
    folder_field = fields.AddCustomFieldDef(name="vio-deployment-folder", moType=vim.Folder)
    pool_field = fields.AddCustomFieldDef(name="vio-deployment-pool", moType=vim.ResourcePool)
    everywhere = fields.AddCustomFieldDef(name="vio-owner")  # no type: valid for every object
    assert vm_field.key > 0 and len({vm_field.key, folder_field.key, pool_field.key, everywhere.key}) == 4
    assert vm_field.type is str and vm_field.managedObjectType is vim.VirtualMachine and everywhere.managedObjectType is None
    names = [f.name for f in fields.field]
    assert names == sorted(names) and {"vio-deployment", "vio-owner"} <= set(names)

    # A VM made after the field was defined lists it, as vCenter does.
    vm = _clone(si, template, folder, pool, "vio-attr-vm")
    fields.SetField(entity=vm, key=vm_field.key, value="dep-1")
    fields.SetField(entity=folder, key=folder_field.key, value="dep-1")
    fields.SetField(entity=pool, key=pool_field.key, value="dep-1")
    fields.SetField(entity=vm, key=everywhere.key, value="vio-manager")
    fields.SetField(entity=vm, key=vm_field.key, value="dep-2")  # set again: one value per key

    values, available = _values(si, vim.VirtualMachine, vm)
    assert values == {vm_field.key: "dep-2", everywhere.key: "vio-manager"}
    assert set(available) == {"vio-deployment", "vio-owner"}
    values, available = _values(si, vim.Folder, folder)
    assert values == {folder_field.key: "dep-1"} and set(available) == {"vio-deployment-folder", "vio-owner"}
    values, available = _values(si, vim.ResourcePool, pool)
    assert values == {pool_field.key: "dep-1"} and set(available) == {"vio-deployment-pool", "vio-owner"}
    # Attribute access (Fetch) reads the same.
    assert {v.key: v.value for v in vm.customValue} == {vm_field.key: "dep-2", everywhere.key: "vio-manager"}

    # setCustomValue (by field name) works on any entity, as in vCenter.
    folder.setCustomValue(key="vio-owner", value="vio-manager")
    assert _values(si, vim.Folder, folder)[0] == {folder_field.key: "dep-1", everywhere.key: "vio-manager"}


def test_custom_attribute_refusals(fresh_si):
    si = fresh_si
    fields = si.content.customFieldsManager
    template, folder, pool = _made_objects(si)
    field = fields.AddCustomFieldDef(name="vio-folder-only", moType=vim.Folder)
    with pytest.raises(vim.fault.DuplicateName):
        fields.AddCustomFieldDef(name="vio-folder-only", moType=vim.Folder)
    with pytest.raises(vmodl.fault.InvalidArgument):
        fields.SetField(entity=template, key=field.key, value="x")  # a Folder field on a VM
    with pytest.raises(vmodl.fault.InvalidArgument):
        fields.SetField(entity=folder, key=999999, value="x")  # no such field
    with pytest.raises(vmodl.fault.InvalidArgument):
        template.setCustomValue(key="no-such-field", value="x")
    other = fields.AddCustomFieldDef(name="vio-folder-other", moType=vim.Folder)
    with pytest.raises(vim.fault.DuplicateName):
        fields.RenameCustomFieldDef(key=other.key, name="vio-folder-only")

    fields.SetField(entity=folder, key=field.key, value="x")
    fields.RenameCustomFieldDef(key=field.key, name="vio-folder-renamed")
    assert "vio-folder-renamed" in _values(si, vim.Folder, folder)[1]
    fields.RemoveCustomFieldDef(key=field.key)  # its values go with it
    values, available = _values(si, vim.Folder, folder)
    assert field.key not in values and "vio-folder-renamed" not in available


def test_a_collector_waiting_for_updates_sees_a_custom_value(fresh_si):
    si = fresh_si
    fields = si.content.customFieldsManager
    template, folder, pool = _made_objects(si)
    field = fields.AddCustomFieldDef(name=f"vio-watch-{uuid.uuid4().hex[:6]}", moType=vim.Folder)
    collector = si.content.propertyCollector.CreatePropertyCollector()
    try:
        view = si.content.viewManager.CreateContainerView(si.content.rootFolder, [vim.Folder], True)
        traversal = vmodl.query.PropertyCollector.TraversalSpec(name="view", path="view", skip=False, type=vim.view.ContainerView)
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=view, skip=True, selectSet=[traversal])],
            propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim.Folder, pathSet=["name", "customValue"])])
        collector.CreateFilter(spec, partialUpdates=False)
        options = vmodl.query.PropertyCollector.WaitOptions(maxWaitSeconds=5)
        first = collector.WaitForUpdatesEx("", options)
        fields.SetField(entity=folder, key=field.key, value="watched")
        update = collector.WaitForUpdatesEx(first.version, options)
        assert update is not None
        changed = {(o.obj._moId, c.name): c.val for fs in update.filterSet for o in fs.objectSet for c in o.changeSet}
        assert [v.value for v in changed[(folder._moId, "customValue")]] == ["watched"]
    finally:
        collector.DestroyPropertyCollector()


# --- what the harness reports that govmomi keeps silent -----------------------------------------


def test_a_collector_waiting_for_updates_sees_a_vm_reconfigured(fresh_si):
    """ReconfigVM_Task's name, tags and size changes reach a WaitForUpdatesEx (govmomi sets them silently)."""
    si = fresh_si
    template, folder, pool = _made_objects(si)
    vm = _clone(si, template, folder, pool, f"reconf-{uuid.uuid4().hex[:6]}")
    collector = si.content.propertyCollector.CreatePropertyCollector()
    try:
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=vm, skip=False)],
            propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim.VirtualMachine,
                                                                pathSet=["name", "config.extraConfig", "config.hardware.numCPU"])])
        collector.CreateFilter(spec, partialUpdates=False)
        options = vmodl.query.PropertyCollector.WaitOptions(maxWaitSeconds=5)
        first = collector.WaitForUpdatesEx("", options)
        change = vim.vm.ConfigSpec(name="renamed-by-reconfig", numCPUs=3,
                                   extraConfig=[vim.option.OptionValue(key="vio.watch", value="seen")])
        wait_for_tasks(si, [vm.ReconfigVM_Task(change)])
        update = collector.WaitForUpdatesEx(first.version, options)
        assert update is not None
        changed = {c.name: c.val for fs in update.filterSet for o in fs.objectSet for c in o.changeSet}
        assert changed["name"] == "renamed-by-reconfig" and changed["config.hardware.numCPU"] == 3
        assert {o.key: o.value for o in changed["config.extraConfig"]}["vio.watch"] == "seen"
    finally:
        collector.DestroyPropertyCollector()



# --- a session vCenter does not know ------------------------------------------------------------


def test_a_session_vcenter_forgot_reads_nothing_and_hears_not_authenticated(tmp_path):
    """After a restart (the same address and certificate) the old session is unknown: reading an object
    is NotAuthenticated, as vCenter answers (govmomi's simulator answered objects without properties, so
    a client read an empty world instead of logging in again); what a client reads before logging in is
    still answered; our session-keeping client logs in again by itself."""
    certificate = ("-cert", str(tmp_path / "vc.pem"), "-key", str(tmp_path / "vc.key"))
    first = VcsimHandle(start_vcsim(*certificate))
    si = first.connect()
    datacenter = next(r["_obj"] for r in collect(si, vim.Datacenter, ["name"]))
    port = first.port
    first.running.stop()
    again = VcsimHandle(start_vcsim(*certificate, "-listen", f"127.0.0.1:{port}"))
    try:
        read = ('<RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">propertyCollector</_this>'
                '<specSet><propSet><type>{kind}</type><pathSet>{path}</pathSet></propSet><objectSet><obj type="{kind}">'
                '{moid}</obj></objectSet></specSet><options/></RetrievePropertiesEx>')
        status, body = _soap(again, si, read.format(kind="Datacenter", path="vmFolder", moid=datacenter._moId))
        assert status == 500 and "NotAuthenticated" in body and "vmFolder" not in body
        status, body = _soap(again, si, read.format(kind="SessionManager", path="currentSession", moid="SessionManager"))
        assert status == 200 and "missingSet" in body  # answered before a login: the property missing, not a fault
        assert datacenter.vmFolder is not None  # pyvmomi through our stub: logged in again, read
    finally:
        again.running.stop()
