"""`manage.py watch_inventory` as processes, as production runs it: a watcher killed with SIGKILL is
replaced by another process within seconds and nothing is missed (a change made while no one
watched appears after the take-over); however many run, one vCenter never has two watchers."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from pyVmomi import vim

from inventory import models as m
from inventory.clients.vsphere import collect, disconnect
from tests.conftest import ROOT, test_database_url
from tests.test_live_inventory import eventually
from testkit.spec import registered_vcenter

pytestmark = pytest.mark.django_db(transaction=True)

FAST = {"VIO_WATCH_LEASE_SECONDS": "3", "VIO_WATCH_RENEW_SECONDS": "1", "VIO_WATCH_POLL_SECONDS": "1",
        "VIO_INVENTORY_LIVE_SECONDS": "5"}


class WatcherProcess:
    def __init__(self, vcenter_id: int):
        env = dict(os.environ, DATABASE_URL=test_database_url(), **FAST)
        self.process = subprocess.Popen([sys.executable, "manage.py", "watch_inventory", "--vcenter", str(vcenter_id)],
                                        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        start_new_session=True)
        self.log: list[str] = []
        threading.Thread(target=lambda: self.log.extend(self.process.stdout), daemon=True).start()
        eventually(lambda: any("running" in line for line in self.log), 30, "the watcher process started")
        self.holder = next(line for line in self.log if "running" in line).split()[2]

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def watchers():
    started = []

    def start(vcenter_id):
        started.append(WatcherProcess(vcenter_id))
        return started[-1]

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def small(vcsim_factory):
    handle = vcsim_factory("-vms", "6")
    return handle, registered_vcenter(handle)


def watch_of(vcenter):
    return m.InventoryWatch.objects.get(pk=vcenter.pk)


def test_a_killed_watcher_is_replaced_and_nothing_is_missed(small, watchers):
    handle, vcenter = small
    first = watchers(vcenter.pk)
    eventually(lambda: watch_of(vcenter).is_live and watch_of(vcenter).holder == first.holder, 20, "the first live")
    second = watchers(vcenter.pk)
    time.sleep(2)
    assert watch_of(vcenter).holder == first.holder  # the second waits: the lease is held

    first.kill()  # SIGKILL: no lease given back, no goodbye
    killed_at = time.monotonic()
    si = handle.connect()
    try:
        row = next(r for r in collect(si, vim.VirtualMachine, ["name", "runtime.powerState"])
                   if r["runtime.powerState"] == "poweredOn")
        row["_obj"].PowerOffVM_Task()  # while no one watches
        row["_obj"].Rename_Task("changed-while-unwatched")
    finally:
        disconnect(si)

    eventually(lambda: watch_of(vcenter).holder == second.holder and watch_of(vcenter).is_live, 20, "the take-over")
    took = time.monotonic() - killed_at
    assert took < 10, f"taken over after {took:.1f} s"
    vm = eventually(lambda: m.VirtualMachine.objects.filter(vcenter=vcenter, moid=row["_obj"]._moId,
                                                            name="changed-while-unwatched").first(), 5, "the missed change")
    assert vm.power_state == "poweredOff"
    assert watch_of(vcenter).token == 2


def test_two_watchers_never_run_for_one_vcenter(small, watchers):
    _, vcenter = small
    processes = [watchers(vcenter.pk) for _ in range(3)]
    eventually(lambda: watch_of(vcenter).is_live, 20, "live")
    holders, deadline = [], time.monotonic() + 8
    while time.monotonic() < deadline:
        holders.append(watch_of(vcenter).holder)
        time.sleep(0.2)
    assert len(set(holders)) == 1 and holders[0] in {p.holder for p in processes}
    # Only the holder ever said it watches this vCenter; the others waited.
    watching = [p for p in processes if any(f"watching vCenter {vcenter.pk} " in line for line in p.log)]
    assert [p.holder for p in watching] == [holders[0]], [p.log[-5:] for p in processes]
    assert watch_of(vcenter).token == 1

    # A clean stop gives the lease back at once: another takes over without waiting for it to expire.
    holder = next(p for p in processes if p.holder == holders[0])
    holder.stop()
    eventually(lambda: watch_of(vcenter).holder not in ("", holder.holder) and watch_of(vcenter).is_live, 10,
               "another takes over")
