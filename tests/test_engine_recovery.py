"""The engine survives what production throws at it: workers killed with SIGKILL while they clone,
a broker restart that loses every message in flight, steps that stall. Real worker and beat
processes, a real Redis of the test's own for the restart, the vCenter simulator with task delays."""

import shutil
import subprocess
import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from deployments.choices import AttemptOutcome, RunStatus, StepStatus
from deployments.engine import reaper
from deployments.models import Run, StepAttempt, StepRun
from deployments.services import launch
from tests.conftest import start_worker, test_database_url
from testkit.net import free_port
from testkit.runs import FAST_REAPER, assert_exactly_the_planned_vms, wait_for, wait_until
from testkit.spec import ACKNOWLEDGED, registered_vcenter, valid_spec

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ACK = {ACKNOWLEDGED}


def test_a_worker_killed_at_several_points_while_cloning_is_resumed_without_duplicates(vcsim_factory, ova_url, private_queue):
    simulator = vcsim_factory("-task-delay", "CloneVM_Task=2500")
    registered_vcenter(simulator)
    data = dict(valid_spec(simulator), appliance_ova={"url": ova_url})
    database = test_database_url()
    beat = start_worker(database, private_queue, beat=True, env=FAST_REAPER)
    workers = [start_worker(database, private_queue, concurrency=2, env=FAST_REAPER)]
    try:
        deployment = launch.create_deployment(data, acknowledged=ACK)
        run = deployment.runs.get()
        clones = StepRun.objects.filter(run=run, kind="clone")

        # 1: a clone task is running in vCenter (its id checkpointed) when the worker dies.
        wait_until(lambda: clones.filter(status=StepStatus.RUNNING).exclude(checkpoint={}).exists(), 120, "a clone in flight")
        workers[-1].kill()
        workers.append(start_worker(database, private_queue, concurrency=2, env=FAST_REAPER))
        # 2: later, with some clones done and others just claimed.
        wait_until(lambda: clones.filter(status=StepStatus.SUCCEEDED).count() >= 4
                    and clones.filter(status=StepStatus.RUNNING).exists(), 180, "four clones done")
        workers[-1].kill()
        workers.append(start_worker(database, private_queue, concurrency=2, env=FAST_REAPER))
        # 3: right after a clone step was claimed, before any worker reported a sign of life.
        wait_until(lambda: clones.filter(status=StepStatus.RUNNING, heartbeat_at__isnull=True).exists()
                    or clones.filter(status=StepStatus.PENDING).count() == 0, 180, "a clone just claimed")
        workers[-1].kill()
        workers.append(start_worker(database, private_queue, concurrency=2, env=FAST_REAPER))

        run = wait_for(run, timeout=300)
        assert run.status == RunStatus.SUCCEEDED, (run.error, list(run.events.values_list("message", flat=True))[-8:])
        assert_exactly_the_planned_vms(simulator, run)
        lost = run.events.filter(message__contains="worker was lost")
        assert lost.count() >= 2, list(run.events.values_list("message", flat=True))
        assert clones.filter(attempt__gte=2).exists()
    finally:
        for process in [beat, *workers]:
            process.stop()


def _start_redis(port: int, directory) -> subprocess.Popen:
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                "--dir", str(directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip() == b"PONG",
                10, "redis")
    return process


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs Debian's redis-server (make test installs it)")
def test_a_broker_restart_mid_run_loses_messages_and_the_run_still_completes(vcsim_factory, ova_url, private_queue, tmp_path):
    from deployments import tasks
    from vio_manager.celery import app

    port = free_port()
    broker = f"redis://127.0.0.1:{port}/0"
    redis = _start_redis(port, tmp_path)
    simulator = vcsim_factory("-task-delay", "CloneVM_Task=2000")
    registered_vcenter(simulator)
    data = dict(valid_spec(simulator), appliance_ova={"url": ova_url})
    database = test_database_url()
    env = dict(FAST_REAPER, CELERY_BROKER_URL=broker)
    beat = start_worker(database, private_queue, beat=True, env=env)
    worker = start_worker(database, private_queue, concurrency=2, env=env)
    try:
        deployment = launch.create_deployment(data, acknowledged=ACK)
        run = deployment.runs.get()
        # launch's own message went to the tests' usual broker, where nobody takes this queue: send it to ours
        with app.connection_for_write(broker) as connection:
            tasks.advance_run.apply_async((run.pk,), connection=connection)
        wait_until(lambda: StepRun.objects.filter(run=run, kind="clone", status=StepStatus.SUCCEEDED).count() >= 2,
                    120, "two clones done")
        redis.kill()  # no persistence: every queued message is gone
        redis.wait()
        time.sleep(2)
        redis = _start_redis(port, tmp_path)

        run = wait_for(run, timeout=300)
        assert run.status == RunStatus.SUCCEEDED, (run.error, list(run.events.values_list("message", flat=True))[-8:])
        assert_exactly_the_planned_vms(simulator, run)
    finally:
        worker.stop()
        beat.stop()
        redis.terminate()
        redis.wait()


def _running_step(run, kind="clone", **fields) -> StepRun:
    return StepRun.objects.create(run=run, key=f"{kind}:vm-{uuid.uuid4().hex[:6]}", kind=kind, target="vm",
                                  status=StepStatus.RUNNING, attempt=1, started_at=timezone.now(), **fields)


def test_the_reaper_resumes_silent_steps_fails_them_after_the_last_attempt_and_fails_stalled_ones(vcsim, settings, private_queue):
    registered_vcenter(vcsim)
    data = dict(valid_spec(vcsim), appliance_ova={"url": "http://127.0.0.1:9/vio.ova"})
    run = launch.create_deployment(data, acknowledged=ACK).runs.get()  # no worker takes this queue
    now = timezone.now()
    long_ago = now - timedelta(seconds=settings.VIO_ENGINE_LOST_AFTER_SECONDS + 1)

    silent = _running_step(run, heartbeat_at=long_ago, worker="node:123")
    never_taken = _running_step(run)
    StepRun.objects.filter(pk=never_taken.pk).update(started_at=long_ago)
    exhausted = _running_step(run, heartbeat_at=long_ago, worker="node:9")
    StepRun.objects.filter(pk=exhausted.pk).update(attempt=settings.VIO_ENGINE_MAX_ATTEMPTS)
    for number in range(1, settings.VIO_ENGINE_MAX_ATTEMPTS):  # every earlier attempt lost its worker too
        StepAttempt.objects.create(step=exhausted, number=number, claimed_at=long_ago, outcome=AttemptOutcome.LOST)
    alive = _running_step(run, heartbeat_at=now)
    stalled = _running_step(run, kind="preflight", heartbeat_at=now)
    StepRun.objects.filter(pk=stalled.pk).update(started_at=now - timedelta(seconds=reaper.step_time_limit("preflight") + 1))

    done = reaper.reap(now)

    assert sorted(done["resumed"]) == sorted([silent.pk, never_taken.pk])
    assert done["failed"] == [exhausted.pk] and done["stalled"] == [stalled.pk]
    assert run.pk in done["advanced"]
    states = {step.pk: step for step in StepRun.objects.filter(run=run)}
    assert states[silent.pk].status == StepStatus.PENDING and states[never_taken.pk].status == StepStatus.PENDING
    assert states[alive.pk].status == StepStatus.RUNNING
    assert states[exhausted.pk].status == StepStatus.FAILED and "worker was lost on node:9" in states[exhausted.pk].error
    assert f"{settings.VIO_ENGINE_MAX_ATTEMPTS} attempts in a row" in states[exhausted.pk].error
    assert states[stalled.pk].status == StepStatus.FAILED and "Stalled" in states[stalled.pk].error
    messages = list(run.events.values_list("message", flat=True))
    assert any("worker was lost on node:123" in m for m in messages)
    assert any("no worker took it" in m for m in messages)


def test_clones_are_spread_over_hosts_and_respect_the_per_host_limit(vcsim, settings, private_queue):
    from deployments.engine.runner import _within_limits
    from deployments.services.addresses import plan_with_addresses
    from deployments.spec import parse

    registered_vcenter(vcsim)
    data = dict(valid_spec(vcsim), appliance_ova={"url": "http://127.0.0.1:9/vio.ova"})
    deployment = launch.create_deployment(data, acknowledged=ACK)  # no worker takes this queue
    run = deployment.runs.get()
    clones = list(run.steps.filter(kind="clone"))
    host_of = {step.target: step.host for step in clones}
    assert len(set(host_of.values())) == 3 and "" not in host_of.values()  # the Management cluster's three hosts
    plan = plan_with_addresses(deployment, parse(data)[0])
    assert plan.anti_affinity
    for rule, names in plan.anti_affinity.items():  # each group starts on distinct hosts
        assert len({host_of[name] for name in names}) == min(len(names), 3), rule

    settings.VIO_ENGINE_PARALLEL_PER_VCENTER, settings.VIO_ENGINE_PARALLEL_PER_HOST = 10, 1
    chosen = _within_limits(run.deployment.vcenter_id, clones)
    assert len(chosen) == 3 and len({step.host for step in chosen}) == 3
    StepRun.objects.filter(pk=chosen[0].pk).update(status=StepStatus.RUNNING)
    assert len(_within_limits(run.deployment.vcenter_id, clones[1:])) == 2
    settings.VIO_ENGINE_PARALLEL_PER_VCENTER = 1
    assert _within_limits(run.deployment.vcenter_id, clones[1:]) == []


def test_concurrency_limits_hold_across_workers_and_deployments(vcsim_factory, ova_url, private_queue, settings):
    """Two deployments on one vCenter, two workers with room for six steps at once: never more than
    the per-vCenter limit of steps running, never more than the per-host limit of clones per host."""
    import threading

    limits = {"VIO_ENGINE_PARALLEL_PER_VCENTER": "4", "VIO_ENGINE_PARALLEL_PER_HOST": "1"}
    simulator = vcsim_factory("-task-delay", "CloneVM_Task=1000,PowerOnVM_Task=300")
    registered_vcenter(simulator)
    first = dict(valid_spec(simulator), appliance_ova={"url": ova_url})
    second = dict(first, name="cloud2", load_balancer={"public_vip": "192.0.2.6", "public_hostname": "localhost"},
                  management_network=dict(first["management_network"], ip_ranges=[{"start": "10.20.0.100", "end": "10.20.0.130"}]))
    database = test_database_url()
    workers = [start_worker(database, private_queue, concurrency=3, env=dict(FAST_REAPER, **limits)) for _ in range(2)]
    peaks = {"vcenter": 0, "host": 0}
    sampling = threading.Event()

    def sample():
        from django.db import connection
        from django.db.models import Count

        try:
            while not sampling.is_set():
                running = StepRun.objects.filter(status=StepStatus.RUNNING)
                peaks["vcenter"] = max(peaks["vcenter"], running.count())
                per_host = running.exclude(host="").values("host").annotate(n=Count("id")).values_list("n", flat=True)
                peaks["host"] = max([peaks["host"], *per_host])
                time.sleep(0.02)
        finally:
            connection.close()

    sampler = threading.Thread(target=sample, daemon=True)
    try:
        runs = [launch.create_deployment(data, acknowledged=ACK).runs.get() for data in (first, second)]
        sampler.start()
        finished = [wait_for(run, timeout=300) for run in runs]
        sampling.set()
        sampler.join()
        assert [run.status for run in finished] == [RunStatus.SUCCEEDED] * 2, [run.error for run in finished]
        assert peaks["vcenter"] == 4, peaks  # the limit was reached and never passed
        assert peaks["host"] == 1, peaks
    finally:
        sampling.set()
        for worker in workers:
            worker.stop()


def test_a_teardown_that_cannot_reach_vcenter_waits_then_says_so_and_can_be_resumed(vcsim_factory, private_queue, settings):
    """A teardown is a run like any other: its steps wait for an unreachable vCenter (here a few
    seconds), then fail naming it and the cause; the deployment goes back to failed and its run can
    be resumed."""
    from deployments.choices import DeploymentStatus
    from deployments.models import Deployment
    from deployments.services import run_actions

    simulator = vcsim_factory()
    registered_vcenter(simulator)
    deployment = launch.create_deployment(dict(valid_spec(simulator), appliance_ova={"url": "http://127.0.0.1:9/vio.ova"}),
                                          acknowledged=ACK)  # no worker takes this queue
    Run.objects.filter(pk=deployment.runs.get().pk).update(status=RunStatus.FAILED)
    simulator.running.stop()  # vCenter goes away
    worker = start_worker(test_database_url(), private_queue, env=dict(FAST_REAPER, VIO_ENGINE_UNREACHABLE_SECONDS="3"))
    try:
        run = run_actions.teardown(deployment)
        run = wait_for(run, timeout=90)
        assert run.status == RunStatus.FAILED and run.kind == "teardown"
        failed = run.steps.get(status=StepStatus.FAILED)
        assert f"vCenter {simulator.host}:{simulator.port} cannot be reached: the connection was refused" in failed.error
        assert "Error" not in failed.error and "errno" not in failed.error.lower()  # words, not Python
        assert run.events.filter(level="warning", message__contains="Trying again every").exists()
        deployment.refresh_from_db()
        assert deployment.status == DeploymentStatus.FAILED
        assert run_actions.resume(deployment).pk == run.pk  # a failed teardown resumes like any run
        assert Deployment.objects.get(pk=deployment.pk).status == DeploymentStatus.TEARING_DOWN
    finally:
        worker.stop()
