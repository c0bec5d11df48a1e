"""Day 2: a deployed cloud changed through a reviewed difference. Previews against a deployment whose
first run is recorded as done; change runs by a real worker on the simulator: a compute cluster
added then removed (only its VM made, then deleted; every other VM untouched), a syslog-only change
(no VM step), a fault during a change then a retry, a change while a run is active (409), a rollback
to revision 1, and the same through the API and the command line."""

import json

import pytest
from pyVmomi import vim

from deployments.choices import RunStatus, StepStatus
from deployments.models import Deployment, IpAllocation
from deployments.services import changes, launch, revisions
from inventory.clients.vsphere import collect
from testkit.spec import registered_vcenter, valid_spec
from testkit.runs import wait_for

ACK = {"hostname_other_address@load_balancer.public_hostname"}
SECOND_CLUSTER = {"cluster": "Compute-B", "datastores": ["vio-compute-nfs"]}


def post(client, url, body, **headers):
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def _deployed(vcsim):
    """A deployment whose first run is recorded as succeeded (no worker): what a preview needs."""
    deployment = launch.create_deployment(valid_spec(vcsim), acknowledged=ACK)
    run = deployment.runs.get()
    run.status = RunStatus.SUCCEEDED
    run.save(update_fields=["status"])
    revisions.apply(run.revision)
    return Deployment.objects.get(pk=deployment.pk)


def _with(data, **changes_):
    return {**data, **changes_}


# --- previews (no worker) ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_preview_shows_fields_vms_files_services_and_addresses(vcsim, synced_vcenter, admin_client):
    deployment = _deployed(vcsim)
    data = valid_spec(vcsim)
    data["compute_clusters"] = data["compute_clusters"] + [SECOND_CLUSTER]
    data["keystone"] = dict(data["keystone"], admin_password="Rotated-Admin-2")
    preview = post(admin_client, f"/api/v1/deployments/{deployment.pk}/change-preview/", {"spec": data}).json()

    paths = {change["path"]: change for change in preview["changes"]}
    assert paths["compute_clusters[Compute-B]"]["new"] == "present"
    assert paths["keystone.admin_password"] == {"path": "keystone.admin_password", "old": "(secret)",
                                                "new": "(secret, changed)"}
    assert [vm["name"] for vm in preview["vms_added"]] == ["cloud1-compute-02"] and preview["vms_removed"] == []
    assert preview["vms_added"][0]["cluster"] == "Compute-B"
    files = {f["path"]: f["diff"] for f in preview["files"]}
    assert "config/nova/cloud1-compute-02/nova.conf" in files and "inventory/multinode" in files
    assert "Rotated-Admin-2" not in json.dumps(preview) and "Secret-Admin-1" not in json.dumps(preview)
    assert "keystone" in preview["services"]
    held = set(IpAllocation.objects.filter(deployment=deployment).values_list("address", flat=True))
    assert len(preview["addresses"]["taken"]) == 1 and not set(preview["addresses"]["taken"]) & held
    assert preview["addresses"]["released"] == []
    assert [s["key"] for s in preview["steps"]][:3] == ["preflight", "import_ova", "folders"]
    assert "clone:cloud1-compute-02" in [s["key"] for s in preview["steps"]]


@pytest.mark.django_db
def test_what_a_running_cloud_cannot_change_and_a_shrink_that_cuts_a_used_address_are_refused_on_their_field(
        vcsim, synced_vcenter, admin_client):
    deployment = _deployed(vcsim)
    data = _with(valid_spec(vcsim), topology="compact")
    preview = post(admin_client, f"/api/v1/deployments/{deployment.pk}/change-preview/", {"spec": data}).json()
    assert any(i["path"] == "topology" and i["code"] == "immutable" and i["severity"] == "blocking"
               for i in preview["issues"])  # the preview shows the checks; applying refuses
    refused = post(admin_client, f"/api/v1/deployments/{deployment.pk}/changes/", {"spec": data})
    assert refused.status_code == 400
    assert any(e["field"] == "spec.topology" and e["code"] == "immutable" for e in refused.json()["errors"])

    data = valid_spec(vcsim)
    data["management_network"] = dict(data["management_network"], ip_ranges=[{"start": "10.20.0.15", "end": "10.20.0.40"}])
    refused = post(admin_client, f"/api/v1/deployments/{deployment.pk}/changes/", {"spec": data}).json()
    cut = [e for e in refused["errors"] if e["code"] == "address_in_use"]
    assert cut and all(e["field"] == "spec.management_network.ip_ranges" for e in cut)
    assert any("10.20.0.10" in e["message"] for e in cut)

    data["management_network"]["ip_ranges"] = [{"start": "10.20.0.10", "end": "10.20.0.60"}]  # extending is fine
    preview = post(admin_client, f"/api/v1/deployments/{deployment.pk}/change-preview/", {"spec": data}).json()
    assert [i for i in preview["issues"] if i["severity"] == "blocking"] == []
    assert preview["vms_added"] == preview["vms_removed"] == [] and preview["addresses"]["taken"] == []
    assert preview["changes"] == [{"path": "management_network.ip_ranges", "old": "10.20.0.10-10.20.0.40",
                                   "new": "10.20.0.10-10.20.0.60"}]


@pytest.mark.django_db
def test_a_deployment_never_deployed_cannot_be_changed(vcsim, synced_vcenter, admin_client):
    deployment = launch.create_deployment(valid_spec(vcsim), acknowledged=ACK)  # its run is still queued
    answer = post(admin_client, f"/api/v1/deployments/{deployment.pk}/changes/", {"spec": valid_spec(vcsim)})
    assert answer.status_code == 409 and answer.json()["code"] == "run_active"


@pytest.mark.django_db
def test_the_command_line_previews_applies_lists_and_compares(vcsim, synced_vcenter, tmp_path):
    from io import StringIO

    from django.core.management import call_command

    deployment = _deployed(vcsim)
    data = valid_spec(vcsim)
    data["syslog"] = {"host": "127.0.0.1", "port": 1514, "protocol": "tcp"}
    del data["keystone"]["admin_password"]  # left out: kept
    (tmp_path / "new.json").write_text(json.dumps(data))
    out = StringIO()
    call_command("change", "cloud1", "--spec", str(tmp_path / "new.json"), "--preview", stdout=out)
    shown = out.getvalue()
    assert "syslog.port: 514 -> 1514" in shown and "VMs added: none" in shown and "keystone" not in shown.split("Steps:")[0]
    assert deployment.revisions.count() == 1  # a preview records nothing

    out = StringIO()
    call_command("change", "cloud1", "--spec", str(tmp_path / "new.json"), "--note", "logs elsewhere", stdout=out)
    assert "Revision 2 recorded; change run 2 started" in out.getvalue()
    out = StringIO()
    call_command("revisions", "cloud1", stdout=out)
    listed = out.getvalue().splitlines()
    assert listed[0].startswith("*   1") and "logs elsewhere" in listed[1] and "not applied" in listed[1]
    out = StringIO()
    call_command("diff", "cloud1", "1", "2", stdout=out)
    assert out.getvalue().splitlines() == ["syslog.host: localhost -> 127.0.0.1", "syslog.port: 514 -> 1514",
                                           "syslog.protocol: udp -> tcp"]
    with pytest.raises(Exception, match="has a run in progress"):
        call_command("change", "cloud1", "--revision", "1", stdout=StringIO())


# --- change runs (a real worker on the simulator) ---------------------------------------------------


def _vms(si) -> dict[str, str]:
    return {r["name"]: r["_obj"]._moId for r in collect(si, vim.VirtualMachine, ["name"]) if r["name"].startswith("cloud1-")}


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_compute_cluster_added_then_removed_then_rolled_back_touches_only_its_vm(vcsim_factory, celery_worker,
                                                                                  ova_url, admin_client):
    fresh = vcsim_factory()
    registered_vcenter(fresh)
    data = dict(valid_spec(fresh), appliance_ova={"url": ova_url})
    deployment = launch.create_deployment(data, acknowledged=ACK)
    assert wait_for(deployment.runs.get(), timeout=180).status == RunStatus.SUCCEEDED
    si = fresh.connect()
    before = _vms(si)

    # Add Compute-B: one new VM, every other untouched (same moids), the new cluster in nova's configuration.
    added = dict(data, compute_clusters=data["compute_clusters"] + [SECOND_CLUSTER])
    answer = post(admin_client, f"/api/v1/deployments/{deployment.pk}/changes/", {"spec": added, "note": "more compute"},
                  HTTP_IDEMPOTENCY_KEY="add-compute-b")
    assert answer.status_code == 202, answer.json()
    run = deployment.runs.get(number=answer.json()["run"])
    assert post(admin_client, f"/api/v1/deployments/{deployment.pk}/changes/", {"spec": data}).status_code == 409
    run = wait_for(run, timeout=180)
    assert run.status == RunStatus.SUCCEEDED, (run.error, list(run.events.values_list("message", flat=True))[-6:])
    after = _vms(si)
    assert set(after) - set(before) == {"cloud1-compute-02"}
    assert {name: after[name] for name in before} == before
    assert sorted(run.steps.filter(kind="clone").values_list("target", flat=True)) == ["cloud1-compute-02"]
    nova = run.steps.get(key="render_bundle").output["directory"]
    conf = open(f"{nova}/config/nova/cloud1-compute-02/nova.conf").read()
    assert "cluster_name" in conf
    deployment.refresh_from_db()
    assert deployment.current_revision == 2 and deployment.status == "succeeded"
    new_address = IpAllocation.objects.get(deployment=deployment, purpose="cloud1-compute-02").address

    # Syslog only: no VM step at all.
    syslog = dict(added, syslog={"host": "127.0.0.1", "port": 1514, "protocol": "tcp"})
    run = changes.apply(deployment, syslog, note="logs elsewhere")
    run = wait_for(run, timeout=120)
    assert run.status == RunStatus.SUCCEEDED
    assert not run.steps.filter(kind__in=["clone", "customize", "power_on", "wait_guest", "remove_vm"]).exists()
    assert Deployment.objects.get(pk=deployment.pk).current_revision == 3

    # A fault during a change, then a retry of that change run.
    fresh.inject(method="CloneVM_Task", fault="InsufficientResourcesFault", count=1)
    asked = post(admin_client, f"/api/v1/deployments/{deployment.pk}/changes/", {"revision": 1})
    assert asked.status_code == 400 and asked.json()["code"] == "acknowledgement_required"  # a cluster goes away
    (warning,) = asked.json()["errors"]
    assert warning["code"] == "instances_not_checked" and "Compute-B" in warning["message"]
    rollback = post(admin_client, f"/api/v1/deployments/{deployment.pk}/changes/",
                    {"revision": 1, "acknowledge": [warning["key"]]}).json()
    run = wait_for(deployment.runs.get(number=rollback["run"]), timeout=120)
    # rolling back to revision 1 removes Compute-B's VM: no clone, so the fault is still waiting
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert _vms(si).keys() == before.keys()  # the VM set of revision 1
    assert not IpAllocation.objects.filter(deployment=deployment, address=new_address).exists()  # released
    deployment.refresh_from_db()
    assert deployment.current_revision == 4 and revisions.flatten(deployment.spec) == revisions.flatten(
        Deployment.objects.get(pk=deployment.pk).revisions.get(number=1).spec)

    again = post(admin_client, f"/api/v1/deployments/{deployment.pk}/changes/", {"spec": added}).json()
    run = wait_for(deployment.runs.get(number=again["run"]), timeout=120)
    assert run.status == RunStatus.FAILED and run.steps.get(kind="clone").status == StepStatus.FAILED
    assert Deployment.objects.get(pk=deployment.pk).current_revision == 4  # not advanced by a failed run
    assert admin_client.post(f"/api/v1/deployments/{deployment.pk}/retry/").status_code == 202
    run = wait_for(run, timeout=120)
    assert run.status == RunStatus.SUCCEEDED
    assert Deployment.objects.get(pk=deployment.pk).current_revision == 5 and "cloud1-compute-02" in _vms(si)

    listed = admin_client.get(f"/api/v1/deployments/{deployment.pk}/revisions/").json()
    assert [(r["number"], r["current"]) for r in listed] == [(1, False), (2, False), (3, False), (4, False), (5, True)]
    diff = admin_client.get(f"/api/v1/deployments/{deployment.pk}/revisions/1/diff/2/").json()
    paths = [c["path"] for c in diff["changes"]]
    assert "compute_clusters[Compute-B]" in paths and all(p.startswith("compute_clusters[Compute-B]") for p in paths)
