"""Deployment health from the live picture, and repairs through the engine: drift made with pyvmomi on
the simulator (a VM powered off, a VM destroyed, two controllers on one host, a rule deleted, a host
in maintenance mode) is found within seconds, shown with its action, repaired by a real worker, and
health returns to healthy; a picture that is not live gives unknown; viewers see, operators repair."""

import io
import json
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from pyVmomi import vim

from deployments.choices import RunStatus
from deployments.services import health, launch
from inventory.clients.vsphere import collect, wait_for_tasks
from testkit.runs import wait_for
from testkit.spec import registered_vcenter, valid_spec
from testkit.watch import watching

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
ACK = {"hostname_other_address@load_balancer.public_hostname"}
SECONDS = 10  # a drift must be found within this


def eventually(check, what: str, timeout: float = SECONDS):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout:g} s: {what}")
        time.sleep(0.2)


def _finding(client, deployment, kind):
    body = client.get(f"/api/v1/deployments/{deployment.pk}/health/").json()
    return next((f for f in body["findings"] if f["kind"] == kind), None)


def _healthy(client, deployment):
    return client.get(f"/api/v1/deployments/{deployment.pk}/health/").json()["status"] == health.HEALTHY


def _repair(client, deployment, finding):
    answer = client.post(f"/api/v1/deployments/{deployment.pk}/repairs/", json.dumps({"finding": finding["id"]}),
                         content_type="application/json")
    assert answer.status_code == 202, answer.json()
    run = wait_for(deployment.runs.get(number=answer.json()["run"]), timeout=120)
    assert run.status == RunStatus.SUCCEEDED, (run.error, list(run.events.values_list("message", flat=True))[-5:])
    assert run.kind == "repair"
    return run


def _vm(si, name):
    return next(r for r in collect(si, vim.VirtualMachine, ["name", "runtime.host"]) if r["name"] == name)


def _openstack_view_counts(client, deployment, settings):
    """OpenStack's own view: said skipped on simulated hosts; on real hosts (FakeOpenStackApi where the
    rendered bundle says Keystone is) a nova-compute that is down is a finding in the API, on the card and
    in the log, gone when it is up again; an answer too old is not counted."""
    from deployments.models import Deployment, StepRun
    from deployments.services import cloud_view
    from deployments.tasks import observe_openstack
    from inventory.models import Cluster
    from tests.fake_openstack import FakeOpenStackApi
    from tests.test_openstack_validate import set_globals

    body = client.get(f"/api/v1/deployments/{deployment.pk}/health/").json()
    assert body["openstack"]["state"] == "skipped" and "simulated hosts run no OpenStack" in body["openstack"]["reason"]
    assert "simulated hosts run no OpenStack" in client.get(f"/deployments/{deployment.pk}/health/").content.decode()

    bundle = StepRun.objects.filter(run__deployment=deployment, kind="render_bundle").latest("run__number").output["directory"]
    uuid = deployment.vcenter.about.get("instanceUuid", "")
    moids = Cluster.objects.filter(vcenter=deployment.vcenter, name__in=[c["cluster"] for c in deployment.spec["compute_clusters"]])
    assert cloud_view.running_clouds() == []  # nothing to ask on simulated hosts
    settings.VIO_SIMULATED_HOSTS = False
    assert cloud_view.running_clouds() == [deployment.pk]  # deployments.check_openstack queues one task each
    keystone = launch.deployment_spec_with_secrets(deployment)["keystone"]
    with FakeOpenStackApi(hypervisors=[f"{moid}.{uuid}" for moid in moids.values_list("moid", flat=True)],
                          username=keystone.get("admin_user", "admin"), password=keystone["admin_password"],
                          project=keystone.get("admin_project", "admin")) as api:
        set_globals(Path(bundle), keystone_public_port=str(api.port), kolla_external_fqdn="127.0.0.1")
        api.services[0]["state"] = "down"
        observe_openstack(deployment.pk)
        finding = _finding(client, deployment, "nova_compute_down")
        assert finding and finding["severity"] == "error" and finding["repair"] == ""
        body = client.get(f"/api/v1/deployments/{deployment.pk}/health/").json()
        assert body["status"] == health.FAILED and body["openstack"]["state"] == "checked"
        assert body["openstack"]["summary"]["hypervisors"] == len(moids)
        card = client.get(f"/deployments/{deployment.pk}/health/").content.decode()
        assert 'id="health-openstack" data-state="checked"' in card and f"{len(moids)} hypervisor" in card
        assert "nova-compute on compute-0" in card and "Nova service nova-compute on compute-0" in card
        health.record_changes()
        assert deployment.runs.latest("number").events.filter(message__contains="nova-compute on compute-0").exists()

        api.services[0]["state"] = "up"
        observe_openstack(deployment.pk)
        assert _healthy(client, deployment)
    observe_openstack(deployment.pk)  # the cloud's Keystone gone: said, with what to check
    unreachable = _finding(client, deployment, "openstack_unreachable")
    assert unreachable and "cannot be reached" in unreachable["advice"] and "load balancer VMs" in unreachable["advice"]
    assert "without an answer" in client.get(f"/deployments/{deployment.pk}/health/").content.decode()
    old = dict(Deployment.objects.get(pk=deployment.pk).openstack_view, checked_at="2026-01-01T00:00:00+00:00")
    Deployment.objects.filter(pk=deployment.pk).update(openstack_view=dict(old, findings=[{
        "id": "nova_compute_down:x", "kind": "nova_compute_down", "severity": "error", "message": "old news",
        "advice": "", "objects": []}]))
    body = client.get(f"/api/v1/deployments/{deployment.pk}/health/").json()
    assert body["openstack"]["state"] == "stale" and body["status"] == health.HEALTHY  # not counted when old
    settings.VIO_SIMULATED_HOSTS = True


def test_drift_is_found_shown_with_its_action_and_repaired(vcsim_factory, celery_worker, ova_url, admin_client, settings,
                                                           django_user_model):
    settings.VIO_WATCH_LEASE_SECONDS, settings.VIO_WATCH_RENEW_SECONDS = 4, 1
    settings.VIO_WATCH_POLL_SECONDS, settings.VIO_INVENTORY_LIVE_SECONDS = 1, 5
    simulator = vcsim_factory()
    vcenter = registered_vcenter(simulator)
    deployment = launch.create_deployment(dict(valid_spec(simulator), appliance_ova={"url": ova_url}), acknowledged=ACK)
    assert wait_for(deployment.runs.get(), timeout=180).status == RunStatus.SUCCEEDED
    si = simulator.connect()
    assert health.evaluate(deployment).status == health.UNKNOWN  # no watcher yet: not live, never "healthy"

    with watching(vcenter.pk):
        eventually(lambda: _healthy(admin_client, deployment), "healthy once live", 20)
        listed = admin_client.get("/api/v1/deployments/health/?status=healthy").json()
        assert listed["count"] == 1 and listed["results"][0]["id"] == deployment.pk
        assert admin_client.get("/api/v1/deployments/health/?status=failed").json()["count"] == 0

        # A controller powered off: found, repaired by powering it on.
        vm = _vm(si, "cloud1-controller-01")
        wait_for_tasks(si, [vm["_obj"].PowerOffVM_Task()], 30)
        finding = eventually(lambda: _finding(admin_client, deployment, "vm_powered_off"), "the powered-off VM")
        assert finding["severity"] == "error" and finding["repair"] == "power_on" and finding["repair_label"]
        assert finding["objects"][0] == {"type": "VirtualMachine", "name": "cloud1-controller-01",
                                         "moid": vm["_obj"]._moId}
        _repair(admin_client, deployment, finding)
        eventually(lambda: _healthy(admin_client, deployment), "healthy after powering on")

        # A VM destroyed: made again (a new moid), the cloud reconfigured for it.
        gone = _vm(si, "cloud1-memcache-02")
        wait_for_tasks(si, [gone["_obj"].PowerOffVM_Task()], 30)
        wait_for_tasks(si, [gone["_obj"].Destroy_Task()], 30)
        finding = eventually(lambda: _finding(admin_client, deployment, "vm_missing"), "the missing VM")
        run = _repair(admin_client, deployment, finding)
        assert {"clone", "customize", "power_on", "wait_guest", "render_bundle"} <= set(run.steps.values_list("kind", flat=True))
        assert _vm(si, "cloud1-memcache-02")["_obj"]._moId != gone["_obj"]._moId
        eventually(lambda: _healthy(admin_client, deployment), "healthy after making it again")

        # Two controllers on one host: found, one moved to a host their rule allows.
        first, second = _vm(si, "cloud1-controller-01"), _vm(si, "cloud1-controller-02")
        wait_for_tasks(si, [second["_obj"].RelocateVM_Task(vim.vm.RelocateSpec(host=first["runtime.host"]))], 30)
        finding = eventually(lambda: _finding(admin_client, deployment, "anti_affinity_broken"), "the broken group")
        assert finding["repair"] == "move_vm"
        _repair(admin_client, deployment, finding)
        assert _vm(si, "cloud1-controller-02")["runtime.host"]._moId != _vm(si, "cloud1-controller-01")["runtime.host"]._moId
        eventually(lambda: _healthy(admin_client, deployment), "healthy after the move")

        # A rule deleted: restored.
        cluster = next(r for r in collect(si, vim.ClusterComputeResource, ["name", "configurationEx"]) if r["name"] == "Management")
        rule = next(r for r in cluster["configurationEx"].rule if r.name == "cloud1-db")
        spec = vim.cluster.ConfigSpecEx(rulesSpec=[vim.cluster.RuleSpec(operation="remove", removeKey=rule.key)])
        wait_for_tasks(si, [cluster["_obj"].ReconfigureComputeResource_Task(spec, True)], 30)
        finding = eventually(lambda: _finding(admin_client, deployment, "rule_missing"), "the missing rule")
        # This one from the command line: `manage.py health` lists it, `manage.py repair --wait` repairs it.
        said = io.StringIO()
        call_command("health", deployment.name, stdout=said)
        assert f"{finding['id']}: {finding['message']}" in said.getvalue() and "[repair: Restore the rule]" in said.getvalue()
        assert "OpenStack's own view: skipped (Not asked: simulated hosts" in said.getvalue()
        said = io.StringIO()
        call_command("repair", str(deployment.pk), "--finding", finding["id"], "--wait", "--timeout", "120", stdout=said)
        assert deployment.runs.order_by("-number").first().status == RunStatus.SUCCEEDED, said.getvalue()
        eventually(lambda: _healthy(admin_client, deployment), "healthy after restoring the rule")

        # A host in maintenance mode: each VM on it is found, with the move as its action.
        host = _vm(si, "cloud1-lb-01")["runtime.host"]
        wait_for_tasks(si, [host.EnterMaintenanceMode_Task(timeout=0)], 30)
        finding = eventually(lambda: _finding(admin_client, deployment, "host_trouble"), "the host in maintenance")
        assert finding["repair"] == "move_vm" and "maintenance" in finding["message"]
        wait_for_tasks(si, [host.ExitMaintenanceMode_Task(timeout=0)], 30)
        eventually(lambda: _healthy(admin_client, deployment), "healthy once the host is back")

        _openstack_view_counts(admin_client, deployment, settings)

        # Viewers see health; only operators repair.
        viewer = django_user_model.objects.create_user("viewer-health", password="a-long-viewer-password")
        from vio_manager.access.roles import VIEWER, set_role

        set_role(viewer, VIEWER)
        admin_client.logout()
        admin_client.force_login(viewer)
        assert admin_client.get(f"/api/v1/deployments/{deployment.pk}/health/").status_code == 200
        refused = admin_client.post(f"/api/v1/deployments/{deployment.pk}/repairs/", json.dumps({"finding": "x"}),
                                    content_type="application/json")
        assert refused.status_code == 403

    # The watcher gone: once the picture is no longer confirmed, health is unknown.
    eventually(lambda: health.evaluate(deployment).status == health.UNKNOWN, "unknown when not live", 15)


def test_a_worker_killed_during_a_repair_is_followed_by_the_next_attempt(vcsim_factory, ova_url, private_queue, settings):
    """A repair is a run like any other: the worker cloning the missing VM again is killed (kill -9);
    the reaper hands the step to another worker, which adopts the clone vCenter went on with: the
    repair succeeds with exactly one VM of that name, and health is healthy again."""
    from deployments.models import StepRun
    from deployments.services import repairs
    from tests.conftest import start_worker, test_database_url
    from testkit.runs import FAST_REAPER, wait_until

    settings.VIO_WATCH_LEASE_SECONDS, settings.VIO_WATCH_RENEW_SECONDS = 4, 1
    settings.VIO_WATCH_POLL_SECONDS, settings.VIO_INVENTORY_LIVE_SECONDS = 1, 5
    simulator = vcsim_factory()
    vcenter = registered_vcenter(simulator)
    beat = start_worker(test_database_url(), private_queue, beat=True, env=FAST_REAPER)
    workers = [start_worker(test_database_url(), private_queue, concurrency=2, env=FAST_REAPER)]
    try:
        deployment = launch.create_deployment(dict(valid_spec(simulator), appliance_ova={"url": ova_url}), acknowledged=ACK)
        assert wait_for(deployment.runs.get(), timeout=180).status == RunStatus.SUCCEEDED
        si = simulator.connect()
        with watching(vcenter.pk):
            eventually(lambda: health.evaluate(deployment).status == health.HEALTHY, "healthy once live", 20)
            gone = _vm(si, "cloud1-memcache-02")["_obj"]
            wait_for_tasks(si, [gone.PowerOffVM_Task()], 30)
            wait_for_tasks(si, [gone.Destroy_Task()], 30)
            finding = eventually(lambda: next((f for f in health.evaluate(deployment).findings
                                               if f.kind == "vm_missing"), None), "the missing VM")
            simulator.inject(method="CloneVM_Task", match="cloud1-memcache-02", delay=5000, count=1)
            run = repairs.repair(deployment, finding.id)
            cloning = StepRun.objects.filter(run=run, key="clone:cloud1-memcache-02", checkpoint__has_key="clone_task"
                                             ).exclude(checkpoint__clone_task=None)
            wait_until(cloning.exists, 120, "the clone of the repair under way")
            workers[0].kill()
            workers.append(start_worker(test_database_url(), private_queue, concurrency=2, env=FAST_REAPER))
            run = wait_for(run, timeout=240)
            assert run.status == RunStatus.SUCCEEDED, (run.error, list(run.events.values_list("message", flat=True))[-8:])
            step = run.steps.get(key="clone:cloud1-memcache-02")
            assert list(step.attempts.values_list("outcome", flat=True)) == ["lost", "succeeded"]
            names = [r["name"] for r in collect(si, vim.VirtualMachine, ["name"])]
            assert names.count("cloud1-memcache-02") == 1
            eventually(lambda: health.evaluate(deployment).status == health.HEALTHY, "healthy after the repair", 30)
    finally:
        for process in [beat, *workers]:
            process.stop()
