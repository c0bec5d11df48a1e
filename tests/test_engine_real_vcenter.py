"""The engine under a real vCenter's conditions: tasks longer than the connection's timeout, workers
killed at the points where vCenter keeps working without them (an OVA import, a customization, a
teardown), teardowns after runs that failed half way, resuming a stopped run, objects deleted in
vCenter behind the engine's back, an expired session, a database restart under a heartbeat.
Real worker and beat processes, the vCenter simulator, the truth counted in vCenter by pyvmomi."""

import json
import subprocess
import sys
import time
from collections import Counter

import pytest
from pyVmomi import vim

from deployments.choices import RunStatus, StepStatus
from deployments.models import Deployment, StepAttempt, StepRun
from deployments.services import launch, run_actions
from inventory.clients.vsphere import collect
from tests.conftest import ROOT, start_worker, test_database_url
from testkit.runs import FAST_REAPER, assert_exactly_the_planned_vms, vms_named, wait_for, wait_until
from testkit.spec import ACKNOWLEDGED, registered_vcenter, valid_spec

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# Python and pyVmomi words that must never reach a person (errors are in words).
ACK = {ACKNOWLEDGED}
RAW = ("Traceback", "Error:", "Exception", "dynamicType", "vmodl.", "vim.fault", "pyVmomi", "(vim.", "Errno")


def _assert_in_words(run) -> None:
    texts = [run.error, *run.steps.values_list("error", flat=True), *run.events.values_list("message", flat=True)]
    raw = [text for text in texts if any(token in text for token in RAW)]
    assert not raw, raw


def _workers(queue, count=1, concurrency=2, **env):
    return [start_worker(test_database_url(), queue, concurrency=concurrency, env=dict(FAST_REAPER, **env))
            for _ in range(count)]


def _stop(*processes):
    for process in processes:
        process.stop()


def _spec(simulator, ova_url, **changes):
    return dict(valid_spec(simulator), appliance_ova={"url": ova_url}, **changes)


# --- any duration, exactly once --------------------------------------------------------------------


def test_a_clone_longer_than_the_socket_timeout_and_a_busy_worker_execute_each_attempt_once(vcsim_factory, ova_url,
                                                                                          private_queue):
    """A clone task longer than the socket timeout (the SOAP connection gives up on a silent answer)
    completes, and the import's worker, busy for longer than a follow, hands every step it claims to the
    queue without also running one itself: each attempt starts once, and vCenter holds exactly the
    planned VMs. The issue saw it with a 35 s clone under the 30 s socket timeout and a worker busy for
    more than 20 s; here both settings are scaled down (9 s socket, 5 s follow) to keep the test short."""
    simulator = vcsim_factory()
    registered_vcenter(simulator)
    simulator.inject(method="ImportVApp", delay=6000, count=1)
    simulator.inject(method="CloneVM_Task", match="cloud1-db-01", delay=11000, count=1)
    workers = _workers(private_queue, count=2, VIO_VCENTER_SOCKET_SECONDS="9", VIO_ENGINE_FOLLOW_SECONDS="5")
    try:
        run = launch.create_deployment(_spec(simulator, ova_url), acknowledged=ACK).runs.get()
        slow = StepRun.objects.get(run=run, key="clone:cloud1-db-01")
        waiting = wait_until(lambda: StepRun.objects.filter(pk=slow.pk).exclude(waiting_for="")
                              .values_list("waiting_for", "waiting_since").first(), 120, "the slow clone waiting")
        run = wait_for(run, timeout=240)
    finally:
        _stop(*workers)
    assert run.status == RunStatus.SUCCEEDED, (run.error, list(run.events.values_list("message", flat=True))[-8:])
    assert waiting[0].startswith("Clone cloud1-db-01 (vCenter task ") and waiting[1] is not None
    attempts = StepAttempt.objects.filter(step__run=run)
    assert set(run.steps.values_list("attempt", flat=True)) == {1}
    assert attempts.count() == run.steps.count() and not attempts.filter(started_at__isnull=True).exists()
    started = Counter(m.split(" started (attempt")[0] for m in run.events.values_list("message", flat=True)
                      if " started (attempt" in m)
    assert set(started.values()) == {1} and len(started) == run.steps.count()
    took = attempts.get(step=slow)
    assert (took.finished_at - took.started_at).total_seconds() >= 11
    assert_exactly_the_planned_vms(simulator, run)
    _assert_in_words(run)


# --- kill points -----------------------------------------------------------------------------------


def test_a_worker_killed_during_the_ova_import_leaves_nothing_that_blocks_the_next_import(vcsim_factory, ova_url,
                                                                                         private_queue):
    """vCenter goes on making the VM of an import whose worker died: the next attempt removes that
    half-made VM (tagged as importing from its first moment) and imports again."""
    simulator = vcsim_factory()
    registered_vcenter(simulator)
    simulator.inject(method="ImportVApp", delay=4000, count=1)
    beat = start_worker(test_database_url(), private_queue, beat=True, env=FAST_REAPER)
    workers = _workers(private_queue)
    try:
        run = launch.create_deployment(_spec(simulator, ova_url), acknowledged=ACK).runs.get()
        importing = StepRun.objects.filter(run=run, key="import_ova", status=StepStatus.RUNNING, checkpoint__has_key="importing")
        wait_until(importing.exists, 60, "the import under way")
        time.sleep(1)  # inside ImportVApp, which vCenter completes after the worker is gone
        workers[0].kill()
        wait_until(lambda: [r for r in vms_named(simulator, "vio-appliance-")], 20, "the half-made import in vCenter")
        workers += _workers(private_queue)
        run = wait_for(run, timeout=240)
    finally:
        _stop(beat, *workers)
    assert run.status == RunStatus.SUCCEEDED, (run.error, list(run.events.values_list("message", flat=True))[-8:])
    templates = vms_named(simulator, "vio-appliance-")
    assert len(templates) == 1 and templates[0]["config.template"] is True
    assert run.events.filter(message__contains="left by an interrupted import").exists()
    assert run.steps.get(key="import_ova").attempt == 2
    assert_exactly_the_planned_vms(simulator, run)
    _assert_in_words(run)


def test_a_worker_killed_during_a_customization_is_followed_to_its_end_by_the_next_attempt(vcsim_factory, ova_url,
                                                                                          private_queue):
    simulator = vcsim_factory()
    registered_vcenter(simulator)
    simulator.inject(method="CustomizeVM_Task", match="cloud1-lb-01", delay=5000, count=1)
    beat = start_worker(test_database_url(), private_queue, beat=True, env=FAST_REAPER)
    workers = _workers(private_queue)
    try:
        run = launch.create_deployment(_spec(simulator, ova_url), acknowledged=ACK).runs.get()
        customizing = StepRun.objects.filter(run=run, key="customize:cloud1-lb-01", status=StepStatus.RUNNING,
                                             checkpoint__has_key="customize_task").exclude(checkpoint__customize_task=None)
        wait_until(customizing.exists, 120, "the customization under way")
        workers[0].kill()
        workers += _workers(private_queue)
        run = wait_for(run, timeout=240)
    finally:
        _stop(beat, *workers)
    assert run.status == RunStatus.SUCCEEDED, (run.error, list(run.events.values_list("message", flat=True))[-8:])
    step = run.steps.get(key="customize:cloud1-lb-01")
    assert step.attempt == 2 and list(step.attempts.values_list("outcome", flat=True)) == ["lost", "succeeded"]
    assert_exactly_the_planned_vms(simulator, run)
    _assert_in_words(run)


def test_a_worker_killed_during_a_teardown_does_not_leave_it_half_done(vcsim_factory, ova_url, private_queue):
    simulator = vcsim_factory()
    registered_vcenter(simulator)
    beat = start_worker(test_database_url(), private_queue, beat=True, env=FAST_REAPER)
    workers = _workers(private_queue)
    try:
        deployment = launch.create_deployment(_spec(simulator, ova_url), acknowledged=ACK)
        assert wait_for(deployment.runs.get()).status == RunStatus.SUCCEEDED
        simulator.inject(method="PowerOffVM_Task", delay=700, count=13)
        teardown = run_actions.teardown(deployment)
        removing = StepRun.objects.filter(run=teardown, key="remove_vms", status=StepStatus.RUNNING)
        wait_until(lambda: removing.exists() and len(removing.get().checkpoint.get("removed", [])) >= 2, 60,
                    "two VMs deleted")
        workers[0].kill()
        workers += _workers(private_queue)
        wait_until(lambda: not Deployment.objects.filter(pk=deployment.pk).exists(), 180, "the deployment deleted")
    finally:
        _stop(beat, *workers)
    assert vms_named(simulator, "cloud1-") == [] and vms_named(simulator, "vio-appliance-") == []
    si = simulator.connect()
    assert not [r for r in collect(si, vim.Folder, ["name"]) if r["name"] == "vio-cloud1"]
    assert not [r for r in collect(si, vim.ResourcePool, ["name"]) if r["name"] == "vio-cloud1"]


# --- teardown after a failure at any point ---------------------------------------------------------

FAILURE_POINTS = {
    # the folder is made, then its resource pool is refused
    "folders": dict(method="CreateResourcePool", fault="InsufficientResourcesFault", count=1),
    # folder and pool made, a few VMs cloned, then a clone fails
    "pool": dict(method="CloneVM_Task", match="cloud1-db-02", fault="InsufficientResourcesFault", count=1),
    # the load balancers' and controllers' rules made, the databases' refused
    "anti_affinity": dict(method="ReconfigureComputeResource_Task", match="cloud1-db", fault="InvalidArgument", count=1),
    # every VM made and customized, the rules made, the first power-on refused
    "power_on": dict(method="PowerOnVM_Task", fault="InsufficientResourcesFault", count=1),
}


@pytest.mark.parametrize("point", sorted(FAILURE_POINTS))
def test_a_teardown_after_a_run_that_failed_half_way_leaves_nothing_in_vcenter(point, vcsim_factory, ova_url,
                                                                               private_queue, admin_client):
    simulator = vcsim_factory()
    registered_vcenter(simulator)
    simulator.inject(**FAILURE_POINTS[point])
    workers = _workers(private_queue)
    try:
        deployment = launch.create_deployment(_spec(simulator, ova_url), acknowledged=ACK)
        run = wait_for(deployment.runs.get(), timeout=180)
        assert run.status == RunStatus.FAILED, run.status
        assert admin_client.delete(f"/api/v1/deployments/{deployment.pk}/").status_code == 202
        teardown = deployment.runs.get(kind="teardown")
        wait_until(lambda: not Deployment.objects.filter(pk=deployment.pk).exists()
                    or teardown.__class__.objects.get(pk=teardown.pk).status == RunStatus.FAILED, 120, "the teardown")
        assert not Deployment.objects.filter(pk=deployment.pk).exists(), teardown.__class__.objects.get(pk=teardown.pk).error
    finally:
        _stop(*workers)
    si = simulator.connect()
    assert vms_named(simulator, "cloud1-") == [] and vms_named(simulator, "vio-appliance-") == []
    assert not [r for r in collect(si, vim.Folder, ["name"]) if r["name"] == "vio-cloud1"]
    assert not [r for r in collect(si, vim.ResourcePool, ["name"]) if r["name"] == "vio-cloud1"]
    management = next(r for r in collect(si, vim.ClusterComputeResource, ["name", "configurationEx"]) if r["name"] == "Management")
    assert not [r.name for r in management["configurationEx"].rule or [] if r.name.startswith("cloud1-")]


# --- resume ----------------------------------------------------------------------------------------


def test_a_stopped_run_resumes_keeping_what_exists(vcsim_factory, ova_url, private_queue, admin_client):
    simulator = vcsim_factory("-task-delay", "CloneVM_Task=1500")
    registered_vcenter(simulator)
    workers = _workers(private_queue)
    try:
        deployment = launch.create_deployment(_spec(simulator, ova_url), acknowledged=ACK)
        run = deployment.runs.get()
        clones = StepRun.objects.filter(run=run, kind="clone")
        wait_until(lambda: clones.filter(status=StepStatus.SUCCEEDED).count() >= 3, 120, "three clones")
        assert admin_client.post(f"/api/v1/deployments/{deployment.pk}/cancel/").status_code == 202
        assert Deployment.objects.get(pk=deployment.pk).status == "cancelling"  # said at once
        run = wait_for(run, timeout=120)
        assert run.status == RunStatus.CANCELLED
        made = dict(clones.filter(status=StepStatus.SUCCEEDED).values_list("key", "output"))

        response = admin_client.post(f"/api/v1/deployments/{deployment.pk}/retry/")
        assert response.status_code == 202, response.json()
        run = wait_for(run, timeout=240)
    finally:
        _stop(*workers)
    assert run.status == RunStatus.SUCCEEDED, (run.error, list(run.events.values_list("message", flat=True))[-8:])
    assert {key: output for key, output in clones.values_list("key", "output") if key in made} == made  # kept
    assert run.events.filter(message__contains="everything they made is there").exists()
    assert_exactly_the_planned_vms(simulator, run)


def test_a_vm_deleted_in_vcenter_is_made_again_when_the_run_resumes(vcsim_factory, ova_url, private_queue):
    from inventory.clients import vsphere_build as build

    simulator = vcsim_factory()
    registered_vcenter(simulator)
    simulator.inject(method="ReconfigureComputeResource_Task", fault="InvalidArgument", count=1)
    workers = _workers(private_queue)
    try:
        deployment = launch.create_deployment(_spec(simulator, ova_url), acknowledged=ACK)
        run = wait_for(deployment.runs.get(), timeout=180)
        assert run.status == RunStatus.FAILED and run.steps.get(key="anti_affinity").status == StepStatus.FAILED
        lost = run.steps.get(key="clone:cloud1-controller-02").output["vm"]
        build.destroy_vm(simulator.connect(), lost)  # someone deletes it in the vSphere Client

        run_actions.resume(deployment)
        run = wait_for(run, timeout=180)
    finally:
        _stop(*workers)
    assert run.status == RunStatus.SUCCEEDED, (run.error, list(run.events.values_list("message", flat=True))[-8:])
    again = run.steps.get(key="clone:cloud1-controller-02")
    assert again.output["vm"] != lost and again.attempt == 2
    assert run.events.filter(level="warning", message__contains=f"VirtualMachine {lost} (cloud1-controller-02) is gone from vCenter").exists()
    assert_exactly_the_planned_vms(simulator, run)


def test_a_vcenter_rebuilt_under_a_run_is_met_by_one_resume(vcsim_factory, ova_url, private_queue, tmp_path):
    """vCenter rebuilt mid-run (the simulator restarted empty, same address and certificate: what the
    run made is gone and its ids now name other objects). The run fails in words; one resume finds what
    is gone by id and name, reads the inventory again and completes with exactly the planned VMs."""
    certificate = ("-cert", str(tmp_path / "vc.pem"), "-key", str(tmp_path / "vc.key"))
    simulator = vcsim_factory(*certificate)
    registered_vcenter(simulator)
    simulator.inject(method="CloneVM_Task", match="cloud1-db-01", delay=4000, count=1)
    workers = _workers(private_queue)
    try:
        deployment = launch.create_deployment(_spec(simulator, ova_url), acknowledged=ACK)
        run = deployment.runs.get()
        wait_until(StepRun.objects.filter(run=run, key="clone:cloud1-db-01", status=StepStatus.RUNNING).exists, 120,
                   "a clone under way")
        port = simulator.port
        simulator.running.stop()
        rebuilt = vcsim_factory(*certificate, "-listen", f"127.0.0.1:{port}")
        run = wait_for(run, timeout=180)
        assert run.status == RunStatus.FAILED, "a run cannot go on in a vCenter that lost what it made"
        _assert_in_words(run)
        run_actions.resume(deployment)
        run = wait_for(run, timeout=240)
    finally:
        _stop(*workers)
    assert run.status == RunStatus.SUCCEEDED, (run.error, list(run.events.values_list("message", flat=True))[-8:])
    assert run.events.filter(level="warning", message__contains="is gone from vCenter").exists()
    assert run.events.filter(message__contains="its inventory was read again").exists()
    assert_exactly_the_planned_vms(rebuilt, run)


# --- vCenter trouble ---------------------------------------------------------------------------------


def test_a_session_that_expires_during_a_run_is_renewed_and_the_run_goes_on(vcsim_factory, ova_url, private_queue):
    simulator = vcsim_factory("-task-delay", "CloneVM_Task=1000")
    registered_vcenter(simulator)
    workers = _workers(private_queue)
    try:
        run = launch.create_deployment(_spec(simulator, ova_url), acknowledged=ACK).runs.get()
        wait_until(lambda: StepRun.objects.filter(run=run, kind="clone", status=StepStatus.RUNNING).exists(), 120,
                    "clones under way")
        # vCenter ends the session in the middle of a wait, as an expired session does
        simulator.inject(method="WaitForUpdatesEx", fault="NotAuthenticated", count=1)
        run = wait_for(run, timeout=240)
        status, rules = simulator.control("GET")
    finally:
        _stop(*workers)
    assert status == 200 and "NotAuthenticated" not in rules  # the fault fired
    assert run.status == RunStatus.SUCCEEDED, (run.error, list(run.events.values_list("message", flat=True))[-8:])
    assert_exactly_the_planned_vms(simulator, run)


# --- the database restarts under a heartbeat ------------------------------------------------------


def test_a_heartbeat_goes_on_across_a_database_restart():
    """The engine's Heartbeat thread in a process of its own, on a PostgreSQL cluster of the test's
    own that is restarted under it: the beats resume once the database is back, the thread lives."""
    from testkit.postgres import PrivateCluster

    cluster = PrivateCluster().start()
    try:
        cluster.create_database()
        env = {"DATABASE_URL": cluster.url, "VIO_ENGINE_HEARTBEAT_SECONDS": "1", "PYTHONPATH": str(ROOT)}
        probe = subprocess.Popen([sys.executable, "-m", "testkit.heartbeat_probe"], cwd=ROOT, text=True,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 env={**__import__("os").environ, **env})
        try:
            assert probe.stdout.readline().strip() == "ready"
            time.sleep(2)
            cluster.restart(down_seconds=4)  # every connection cut; nothing answers for 4 s
            restarted = time.time()
            time.sleep(5)
            probe.stdin.close()
            result = json.loads(probe.stdout.readline())
        finally:
            probe.kill()
            probe.wait()
    finally:
        cluster.remove()
    beats = [value for value in result["heartbeats"] if isinstance(value, float)]
    assert result["thread_alive"]
    assert max(beats) > restarted + 1, result  # beats written after the database came back
