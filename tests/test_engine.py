"""The engine end to end: a run advanced by a real Celery worker over Redis against the vCenter
simulator, from pre-flight to the rendered kolla-ansible bundle."""

import time
from pathlib import Path

import pytest
from pyVmomi import vim

from deployments.choices import RunStatus, StepStatus
from deployments.services import launch, runs
from deployments.spec import parse
from inventory.clients.vsphere import collect
from testkit.runs import wait_for
from testkit.spec import registered_vcenter, valid_spec

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_dvs_run_builds_every_vm_and_renders_the_bundle(vcsim_factory, celery_worker, ova_url):
    from deployments import tasks

    fresh = vcsim_factory()
    registered_vcenter(fresh)
    data = valid_spec(fresh)
    data["appliance_ova"] = {"url": ova_url}
    deployment = launch.create_deployment(data, acknowledged={"hostname_other_address@load_balancer.public_hostname"})
    run = wait_for(deployment.runs.get())  # launched by create_deployment, advanced by the worker

    assert run.status == RunStatus.SUCCEEDED, (run.error, list(run.events.values_list("message", flat=True))[-5:])
    statuses = dict(run.steps.values_list("key", "status"))
    assert statuses["configure"] == statuses["validate"] == StepStatus.SKIPPED
    assert all(status == StepStatus.SUCCEEDED for key, status in statuses.items() if key not in ("configure", "validate"))
    assert runs.progress(run) == 100.0
    deployment.refresh_from_db()
    assert deployment.status == "succeeded"

    si = fresh.connect()
    vms = {r["name"]: r for r in collect(si, vim.VirtualMachine, [
        "name", "config.extraConfig", "guest.ipAddress", "runtime.powerState", "runtime.host",
        "config.hardware.numCPU", "config.hardware.memoryMB", "config.hardware.device"])}
    ours = {name: row for name, row in vms.items() if name.startswith("cloud1-")}
    assert len(ours) == 13
    for vm in run.steps.filter(kind="wait_guest"):
        row = ours[vm.target]
        assert row["runtime.powerState"] == "poweredOn" and row["guest.ipAddress"] == vm.output["ip"]
    # Each VM where the plan put it and as big as the plan says (vCenter honours both; so must the simulator).
    plan = {vm.name: vm for vm in launch.build_plan(parse(data)[0]).vms}
    hosts = dict(run.steps.filter(kind="clone").values_list("target", "host"))
    for name, row in ours.items():
        assert row["runtime.host"]._moId == hosts[name], name
        assert (row["config.hardware.numCPU"], row["config.hardware.memoryMB"]) == (plan[name].vcpu, plan[name].memory_gb * 1024)
        disk = next(d for d in row["config.hardware.device"] if isinstance(d, vim.vm.device.VirtualDisk))
        assert disk.capacityInKB == plan[name].disk_gb * 1024 * 1024, name
    clusters = {r["name"]: r for r in collect(si, vim.ClusterComputeResource, ["name", "configurationEx"])}
    rules = {rule.name: rule for rule in clusters["Management"]["configurationEx"].rule}
    assert {"cloud1-db", "cloud1-lb", "cloud1-controller"} <= set(rules)
    for name in ("cloud1-db", "cloud1-lb", "cloud1-controller", "cloud1-memcache", "cloud1-dhcp"):
        members = [vm._moId for vm in rules[name].vm]
        on = {row["runtime.host"]._moId for row in ours.values() if row["_obj"]._moId in members}
        assert len(on) == len(members), f"{name}: its members share a host"
    bundle = Path(run.steps.get(key="render_bundle").output["directory"])
    assert (bundle / "globals.yml").exists() and "nova_compute_virt_type: vmware" in (bundle / "globals.yml").read_text()
    assert oct((bundle / "passwords.yml").stat().st_mode & 0o777) == "0o600"
    messages = list(run.events.values_list("message", flat=True))
    assert messages[0].startswith("Run 1 created") and any("not executed: simulated hosts" in m for m in messages)

    # Every VM, the folder and the pool it made carry the custom attribute naming the deployment.
    made = run.steps.get(key="folders").output
    expected = f"{deployment.name} (id {deployment.pk})"
    fields = {f.managedObjectType: f.key for f in si.content.customFieldsManager.field if f.name == "VIO Manager deployment"}
    marked = {r["_obj"]._moId: {v.key: v.value for v in r.get("customValue") or []}.get(fields[kind]) for kind in (
        vim.VirtualMachine, vim.Folder, vim.ResourcePool) for r in collect(si, kind, ["customValue"])}
    for moid in [row["_obj"]._moId for row in ours.values()] + [made["folder"], made["pool"]]:
        assert marked[moid] == expected, moid
    assert not [moid for moid, value in marked.items() if value and moid not in
                {row["_obj"]._moId for row in ours.values()} | {made["folder"], made["pool"]}]  # nothing else
    unmarked = ours["cloud1-controller-01"]["_obj"] if "cloud1-controller-01" in ours else next(iter(ours.values()))["_obj"]
    si.content.customFieldsManager.SetField(entity=unmarked, key=fields[vim.VirtualMachine], value="")  # cleared in vCenter

    # A second run adopts everything the first made: same VMs, the template reused.
    run2 = runs.start_run(deployment, parse(data)[0])
    tasks.advance_run.delay(run2.pk)
    run2 = wait_for(run2)
    assert run2.status == RunStatus.SUCCEEDED
    assert run2.steps.get(key="import_ova").output["reused"] is True
    again = [r["name"] for r in collect(si, vim.VirtualMachine, ["name"]) if r["name"].startswith("cloud1-")]
    assert sorted(again) == sorted(ours)
    remarked = collect(si, vim.VirtualMachine, ["customValue"], root=vim.Folder(made["folder"], si._stub))
    values = {r["_obj"]._moId: {v.key: v.value for v in r.get("customValue") or []}.get(fields[vim.VirtualMachine])
              for r in remarked}
    assert values[unmarked._moId] == expected  # the adopting run set it again


def test_a_failed_step_fails_the_run_with_its_reason_and_starts_nothing_after_it(vcsim_factory, celery_worker, ova_url):
    from deployments import tasks

    fresh = vcsim_factory()
    registered_vcenter(fresh)
    data = valid_spec(fresh)
    data["appliance_ova"] = {"url": ova_url}
    fresh.inject(method="CloneVM_Task", match="cloud1-db-02", fault="InsufficientResourcesFault", count=1)
    deployment = launch.create_deployment(data, acknowledged={"hostname_other_address@load_balancer.public_hostname"})
    run = wait_for(deployment.runs.get())

    assert run.status == RunStatus.FAILED and run.error.startswith("Clone cloud1-db-02 failed: Cloning cloud1-db-02 failed")
    failed = run.steps.get(key="clone:cloud1-db-02")
    assert failed.status == StepStatus.FAILED and failed.error.startswith("Cloning cloud1-db-02 failed: ")
    assert run.steps.get(key="customize:cloud1-db-02").status == StepStatus.PENDING
    assert run.steps.get(key="render_bundle").status == StepStatus.PENDING
    assert run.events.filter(level="error").exists()
    deployment.refresh_from_db()
    assert deployment.status == "failed"


def test_retry_resumes_from_the_failed_step_and_cancel_stops_between_steps(vcsim_factory, celery_worker, ova_url, admin_client):
    fresh = vcsim_factory()
    registered_vcenter(fresh)
    data = valid_spec(fresh)
    data["appliance_ova"] = {"url": ova_url}
    fresh.inject(method="CloneVM_Task", match="cloud1-db-02", fault="InsufficientResourcesFault", count=1)
    deployment = launch.create_deployment(data, acknowledged={"hostname_other_address@load_balancer.public_hostname"})
    run = wait_for(deployment.runs.get())
    assert run.status == RunStatus.FAILED
    kept = dict(run.steps.filter(status=StepStatus.SUCCEEDED).values_list("key", "finished_at"))

    response = admin_client.post(f"/api/v1/deployments/{deployment.pk}/retry/")
    assert response.status_code == 202
    run = wait_for(run)
    assert run.status == RunStatus.SUCCEEDED
    assert run.steps.get(key="clone:cloud1-db-02").attempt == 2
    assert dict(run.steps.filter(key__in=kept).values_list("key", "finished_at")) == kept  # not run again
    assert admin_client.post(f"/api/v1/deployments/{deployment.pk}/retry/").status_code == 409  # succeeded
    assert admin_client.post(f"/api/v1/deployments/{deployment.pk}/cancel/").status_code == 409

    # Cancel: a slow clone is running; it finishes, nothing new starts, the run ends cancelled.
    second = launch.create_deployment(dict(data, name="cloud2", load_balancer={"public_vip": "192.0.2.6", "public_hostname": "localhost"},
                                           management_network=dict(data["management_network"], ip_ranges=[{"start": "10.20.0.100", "end": "10.20.0.130"}])),
                                      acknowledged={"hostname_other_address@load_balancer.public_hostname"})
    fresh.inject(method="CloneVM_Task", delay=1500, count=-1)
    run2 = second.runs.get()
    deadline = time.monotonic() + 30
    while not run2.steps.filter(kind="clone", status=StepStatus.RUNNING).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert admin_client.post(f"/api/v1/deployments/{second.pk}/cancel/").status_code == 202
    run2 = wait_for(run2)
    fresh.clear_faults()
    assert run2.status == RunStatus.CANCELLED
    assert run2.steps.filter(status=StepStatus.CANCELLED).exists()
    assert not run2.steps.filter(status=StepStatus.RUNNING).exists()
    assert not run2.steps.filter(kind="power_on", status=StepStatus.SUCCEEDED).exists()


def test_teardown_removes_what_the_deployment_made_and_releases_its_addresses(vcsim_factory, celery_worker, ova_url, admin_client):
    from deployments.models import Deployment, IpAllocation

    fresh = vcsim_factory()
    registered_vcenter(fresh)
    data = valid_spec(fresh)
    data["appliance_ova"] = {"url": ova_url}
    deployment = launch.create_deployment(data, acknowledged={"hostname_other_address@load_balancer.public_hostname"})
    assert admin_client.delete(f"/api/v1/deployments/{deployment.pk}/").status_code == 409  # its run is active
    run = wait_for(deployment.runs.get())
    assert run.status == RunStatus.SUCCEEDED

    assert admin_client.delete(f"/api/v1/deployments/{deployment.pk}/").status_code == 202
    deadline = time.monotonic() + 60
    while Deployment.objects.filter(pk=deployment.pk).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Deployment.objects.filter(pk=deployment.pk).exists()
    assert not IpAllocation.objects.exists()
    si = fresh.connect()
    names = {r["name"] for r in collect(si, vim.VirtualMachine, ["name"])}
    assert not {n for n in names if n.startswith("cloud1-")}
    assert not any(n.startswith("vio-appliance-") for n in names)  # no other deployment uses the template
    clusters = {r["name"]: r for r in collect(si, vim.ClusterComputeResource, ["name", "configurationEx"])}
    assert not [rule for rule in clusters["Management"]["configurationEx"].rule if rule.name.startswith("cloud1-")]
