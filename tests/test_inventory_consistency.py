"""Validation while a sync writes a new picture of the same vCenter: the checks read one consistent
snapshot of the inventory, in every kind of transaction their caller may be in, and a valid spec
never gets a false blocking issue ("There is no cluster 'Management' …; pick one of none")."""

import contextlib
import copy
import threading
import time

import pytest
from django.db import connection, transaction
from pyVmomi import vim

from deployments.spec import inventory_checks, validate
from inventory import models as m
from inventory.clients.vsphere import collect, disconnect, wait_for_tasks
from inventory.clients.vsphere_inventory import read_inventory
from inventory.services import sync
from inventory.services.snapshot_store import store_vcenter_snapshot
from testkit.spec import registered_vcenter, valid_spec

pytestmark = pytest.mark.django_db(transaction=True)

# How a caller reads: on its own (autocommit), inside a transaction of its own choosing (the
# create_deployment path), and that again when the picture moves at every read (the locked read).
MODES = ["own transaction", "caller's transaction", "caller's transaction, locked"]


@contextlib.contextmanager
def reading(mode: str, monkeypatch):
    if mode.endswith("locked"):
        monkeypatch.setattr(inventory_checks, "SNAPSHOT_ATTEMPTS", 0)
    if mode.startswith("caller"):
        with transaction.atomic():
            yield
    else:
        assert not connection.in_atomic_block
        yield


# --- a valid spec, validated again and again while the vCenter is re-synced ---------------------

class Churn:
    """Flips the simulator between two inventories that both keep the reference spec valid: a VM
    folder and a distributed port group come and go, and a Compute-B host enters and leaves
    maintenance mode."""

    def __init__(self, handle):
        self.si = handle.connect()
        self.datacenter = collect(self.si, vim.Datacenter, ["name"])[0]["_obj"]
        self.dvs = collect(self.si, vim.DistributedVirtualSwitch, ["name"])[0]["_obj"]
        self.host = next(r["_obj"] for r in collect(self.si, vim.HostSystem, ["name"]) if r["name"] == "esx-compb-01.vio.local")
        self.folder = self.portgroup = None

    def flip(self) -> None:
        si = self.si
        if self.folder is None:
            self.folder = self.datacenter.vmFolder.CreateFolder("vio-churn")
            spec = vim.dvs.DistributedVirtualPortgroup.ConfigSpec(name="Churn-VLAN-301", type="earlyBinding", numPorts=8)
            wait_for_tasks(si, [self.dvs.AddDVPortgroup_Task([spec]), self.host.EnterMaintenanceMode_Task(timeout=0)])
            self.portgroup = next(r["_obj"] for r in collect(si, vim.dvs.DistributedVirtualPortgroup, ["name"])
                                  if r["name"] == "Churn-VLAN-301")
        else:
            wait_for_tasks(si, [self.folder.Destroy_Task(), self.portgroup.Destroy_Task(),
                                self.host.ExitMaintenanceMode_Task(timeout=0)])
            self.folder = self.portgroup = None

    def close(self) -> None:
        disconnect(self.si)


def resync_until(stop: threading.Event, handle, vcenter_pk: int, synced: list, errors: list) -> None:
    """Flip the inventory and sync, again and again until stopped; each sync's count of networks goes to `synced`."""
    churn = Churn(handle)
    try:
        while not stop.is_set():
            churn.flip()
            record = sync.sync_vcenter(vcenter_pk)
            assert record is not None and record.ok, record and record.error
            synced.append(record.counts["networks"])
    except Exception as exc:  # reported by the test
        errors.append(exc)
    finally:
        churn.close()
        connection.close()


@pytest.mark.parametrize("mode", MODES)
def test_a_valid_spec_stays_valid_while_its_vcenter_is_resynced(vcsim_factory, monkeypatch, mode):
    fresh = vcsim_factory()
    vcenter = registered_vcenter(fresh)
    data = valid_spec(fresh)
    spec, issues = validate(data, live=False)
    assert spec is not None and not [i for i in issues if i.blocking]

    stop, synced, errors, false_issues = threading.Event(), [], [], []
    syncer = threading.Thread(target=resync_until, args=(stop, fresh, vcenter.pk, synced, errors))
    syncer.start()
    validations = 0
    deadline = time.monotonic() + 120
    try:
        # At least 150 validations, and long enough for 30 syncs (of the two inventories) to land among them.
        while (validations < 150 or len(synced) < 30) and not errors and time.monotonic() < deadline:
            with reading(mode, monkeypatch):
                _, issues = validate(data, live=False)
            validations += 1
            blocking = [f"{i.path}: {i.message}" for i in issues if i.blocking]
            if blocking:
                false_issues.append((validations, len(synced), blocking))
    finally:
        stop.set()
        syncer.join(60)
    assert not errors, errors
    assert len(synced) >= 30 and len(set(synced)) == 2, synced  # both inventories, again and again
    assert not false_issues, f"{len(false_issues)} of {validations} validations saw a blocking issue: {false_issues[:3]}"


# --- a sync that commits in the middle of a read ----------------------------------------------

def renamed(snap):
    """The same inventory with Compute-B and vio-compute-nfs renamed: a read that took its clusters
    from one picture and its datastores from the other shows one old name and one new."""
    other = copy.deepcopy(snap)
    for cluster in other.clusters.values():
        if cluster["name"] == "Compute-B":
            cluster["name"] = "Compute-B-renamed"
    for datastore in other.datastores.values():
        if datastore["name"] == "vio-compute-nfs":
            datastore["name"] = "vio-compute-nfs-renamed"
    return other


def names(context) -> tuple[bool, bool]:
    """(Compute-B renamed?, vio-compute-nfs renamed?)"""
    return "Compute-B-renamed" in context.clusters, "vio-compute-nfs-renamed" in context.datastores


@pytest.mark.parametrize("mode", MODES)
def test_a_sync_that_commits_during_a_read_is_not_half_seen(vcsim, vcenter_si, monkeypatch, mode):
    """The sync commits (or, under the lock, tries to) after the read took the clusters and
    before it takes the datastores. The read sees the old picture whole (its own snapshot, or the
    lock holds the sync off until the caller's transaction ends) or the new one whole (read again)."""
    vcenter = registered_vcenter(vcsim)
    new_picture = renamed(read_inventory(vcenter_si))
    reads, original = [], inventory_checks._read_picture
    syncer = threading.Thread(target=lambda: (store_vcenter_snapshot(vcenter, new_picture), connection.close()))

    def read_with_a_sync_in_the_middle(*args, **kwargs):
        reads.append(args)
        return original(*args, **kwargs)

    def with_reach(*args, **kwargs):
        if not syncer.is_alive() and not syncer.ident:  # the first read only
            syncer.start()
            syncer.join(1.0 if mode.endswith("locked") else 30)
            assert syncer.is_alive() == mode.endswith("locked"), "the sync should wait for the lock, and only for it"
        return with_reach.original(*args, **kwargs)

    with_reach.original = inventory_checks._with_reach
    monkeypatch.setattr(inventory_checks, "_read_picture", read_with_a_sync_in_the_middle)
    monkeypatch.setattr(inventory_checks, "_with_reach", with_reach)
    with reading(mode, monkeypatch):
        context = inventory_checks.InventoryContext(vcenter, "VIO-Datacenter")
        seen = names(context)
    syncer.join(30)
    assert not syncer.is_alive()

    if mode == "caller's transaction":
        assert seen == (True, True) and len(reads) == 2  # the generation moved: read again, all new
    else:
        assert seen == (False, False) and len(reads) == 1  # all old
    assert names(inventory_checks.InventoryContext(vcenter, "VIO-Datacenter")) == (True, True)
    generation = m.Datacenter.objects.get(vcenter=vcenter).generation
    store_vcenter_snapshot(vcenter, new_picture)
    assert m.Datacenter.objects.get(vcenter=vcenter).generation == generation + 1  # every store raises it
