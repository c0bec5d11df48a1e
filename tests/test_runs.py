"""Runs, steps and events; addresses held in the database (a constraint, not a check)."""

import threading

import pytest
from django.db import IntegrityError, connection

from deployments.choices import RunStatus, StepStatus
from deployments.models import IpAllocation, Run
from deployments.plan import build_plan, step_graph
from deployments.services import addresses, launch, runs
from deployments.spec import parse
from testkit.spec import valid_spec

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_worker_takes_these_runs(private_queue):
    """These tests are about the rows a launch makes, not about running it: their runs go to a queue of
    their own that no worker takes. (The session's worker once executed such a run after its test had
    ended, and its writes deadlocked the flush of the test database.)"""
    return private_queue


def create(vcsim, name="cloud1", ranges=("10.20.0.10", "10.20.0.40"), vip="192.0.2.5"):
    data = valid_spec(vcsim)
    data["name"] = name
    data["load_balancer"]["public_vip"] = vip
    data["management_network"]["ip_ranges"] = [{"start": ranges[0], "end": ranges[1]}]
    deployment = launch.create_deployment(data, acknowledged={"hostname_other_address@load_balancer.public_hostname"})
    return deployment, parse(data)[0]


def create_bare(vcsim, vcenter):
    """A deployment row without a run: what a concurrent creation looks like before it allocates."""
    from deployments.models import Deployment

    return Deployment.objects.create(name="racer", vcenter=vcenter, spec=valid_spec(vcsim), secrets="{}")


def test_the_step_graph_is_ordered_and_covers_every_vm(vcsim):
    spec, _ = parse(valid_spec(vcsim))
    plan = build_plan(spec)
    steps = step_graph(spec, plan)
    keys = [s.key for s in steps]
    assert len(keys) == len(set(keys))
    seen = set()
    for step in steps:  # every dependency comes earlier: the list is a topological order
        assert set(step.depends_on) <= seen, step.key
        seen.add(step.key)
    for vm in plan.vms:
        assert {f"clone:{vm.name}", f"customize:{vm.name}", f"power_on:{vm.name}", f"wait_guest:{vm.name}"} <= seen
    assert keys[0] == "preflight" and keys[-1] == "validate"


def test_creating_a_deployment_starts_its_first_run_with_addresses_and_steps(vcsim, synced_vcenter):
    deployment, spec = create(vcsim)
    run = deployment.runs.get()
    assert run.number == 1 and run.status == RunStatus.PENDING and run.spec == deployment.spec
    assert run.steps.count() == len(step_graph(spec, build_plan(spec)))
    assert set(run.steps.values_list("status", flat=True)) == {StepStatus.PENDING}
    held = set(IpAllocation.objects.filter(deployment=deployment).values_list("address", flat=True))
    assert {"10.20.0.10", "10.20.0.11", "192.0.2.5", "192.0.2.10"} <= held and len(held) == 13 + 1 + 1 + 2
    assert [e.message for e in run.events.all()][0].startswith("Run 1 created")
    assert runs.progress(run) == 0.0


def test_a_second_active_run_is_refused_by_the_database(vcsim, synced_vcenter):
    deployment, spec = create(vcsim)  # its first run is active
    with pytest.raises(runs.RunAlreadyActive):
        runs.start_run(deployment, spec)
    Run.objects.filter(deployment=deployment).update(status=RunStatus.FAILED)
    assert runs.start_run(deployment, spec).number == 2


def test_two_deployments_never_hold_the_same_address(vcsim, synced_vcenter):
    first, _ = create(vcsim, "cloud1")
    with pytest.raises(launch.SpecInvalid) as refused:
        create(vcsim, "cloud3")  # the same public VIP
    assert [(i.path, i.code) for i in refused.value.issues] == [("load_balancer.public_vip", "vip_in_use")]
    second, _ = create(vcsim, "cloud2", vip="192.0.2.6")
    a = set(IpAllocation.objects.filter(deployment=first).values_list("portgroup", "address"))
    b = set(IpAllocation.objects.filter(deployment=second).values_list("portgroup", "address"))
    assert not a & b and len(b) == len(a)
    with pytest.raises(IntegrityError):  # the constraint itself
        IpAllocation.objects.create(deployment=second, vcenter=synced_vcenter, portgroup="VIO-Management",
                                    address="10.20.0.11", purpose="intruder")


def test_ranges_already_held_elsewhere_are_reported(vcsim, synced_vcenter):
    first, _ = create(vcsim, "cloud1", ("10.20.0.10", "10.20.0.26"))
    with pytest.raises(launch.SpecInvalid) as refused:
        create(vcsim, "cloud2", ("10.20.0.10", "10.20.0.26"), vip="192.0.2.6")
    (issue,) = refused.value.issues
    assert issue.path == "management_network.ip_ranges" and "cloud1 hold" in issue.message
    assert addresses.release(first) > 0
    second, _ = create(vcsim, "cloud2", ("10.20.0.10", "10.20.0.26"), vip="192.0.2.6")
    assert second.runs.get().number == 1


def test_the_engine_cannot_be_raced_onto_a_held_address(vcsim, synced_vcenter):
    """The constraint, not the check, is what holds: allocate behind the checks' back."""
    first, first_spec = create(vcsim, "cloud1", ("10.20.0.10", "10.20.0.26"))
    Run.objects.filter(deployment=first).update(status=RunStatus.FAILED)
    IpAllocation.objects.filter(deployment=first).update(purpose="kept")
    with pytest.raises(addresses.AddressesExhausted, match="public VIP 192.0.2.5 is held by deployment cloud1"):
        addresses.plan_with_addresses(create_bare(vcsim, synced_vcenter), first_spec)


@pytest.mark.django_db(transaction=True)
def test_events_are_ordered_under_concurrent_writers(vcsim):
    from testkit.spec import registered_vcenter

    registered_vcenter(vcsim)
    deployment, spec = create(vcsim)
    run = deployment.runs.get()

    def write(worker):
        for index in range(10):
            runs.log(run, f"worker {worker} event {index}")
        connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    events = list(run.events.values_list("sequence", "message"))
    assert [sequence for sequence, _ in events] == list(range(1, len(events) + 1))
    ours = [message for _, message in events if message.startswith("worker ")]
    assert len(ours) == 30
    for worker in range(3):
        mine = [message for message in ours if message.startswith(f"worker {worker} ")]
        assert mine == [f"worker {worker} event {index}" for index in range(10)]
