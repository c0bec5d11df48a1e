"""The read side over HTTP: the deployment list and its filters (a page costs the same queries however
many rows it holds), detail with progress, runs and their steps, the event log tailed with a
since-cursor, the VMs as the steps recorded them, and the deployment page rendered without JS."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from deployments.choices import DeploymentStatus, RunStatus, StepStatus
from deployments.models import Deployment, IpAllocation, Run, RunEvent, StepRun
from deployments.services import launch, runs
from testkit.factories import deployment_with_run
from testkit.spec import ACKNOWLEDGED, valid_spec

pytestmark = pytest.mark.django_db

# A deployment row with one run and its steps, as the engine leaves them mid-way.
bare = deployment_with_run


def launched(vcsim, name="cloud1"):
    """A deployment created through the service: its run, steps and addresses are the real ones."""
    data = valid_spec(vcsim)
    data["name"] = name
    return launch.create_deployment(data, acknowledged={ACKNOWLEDGED})


def names(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return sorted(row["name"] for row in response.json()["results"])


def test_the_list_filters_and_shows_each_deployments_progress(admin_client, synced_vcenter, django_user_model):
    alice = django_user_model.objects.create_user("alice", password="a-long-password-1")
    bare(synced_vcenter, "cloud-run", "running", alice)
    bare(synced_vcenter, "cloud-ok", "succeeded", steps=((5, "succeeded"), (5, "skipped")))
    bare(synced_vcenter, "lab-failed", "failed", alice, steps=((5, "succeeded"), (5, "failed")))
    bare(synced_vcenter, "lab-queued", "queued", steps=((1, "pending"),))

    everything = admin_client.get("/api/v1/deployments/").json()
    assert everything["count"] == 4
    rows = {row["name"]: row for row in everything["results"]}
    assert rows["cloud-run"]["progress"] == 50.0 and rows["cloud-ok"]["progress"] == 100.0
    assert rows["cloud-run"]["latest_run"]["number"] == 1 and rows["cloud-run"]["latest_run"]["status"] == "running"
    assert rows["lab-failed"]["latest_run"]["can_retry"] is True and rows["cloud-run"]["latest_run"]["can_cancel"] is True
    assert rows["cloud-run"]["created_by"] == "alice" and rows["cloud-ok"]["created_by"] is None

    assert names(admin_client.get("/api/v1/deployments/?status=running")) == ["cloud-run"]
    assert names(admin_client.get("/api/v1/deployments/?status=failed,succeeded")) == ["cloud-ok", "lab-failed"]
    assert names(admin_client.get("/api/v1/deployments/?status_group=active")) == ["cloud-run", "lab-queued"]
    assert names(admin_client.get("/api/v1/deployments/?status_group=terminal")) == ["cloud-ok", "lab-failed"]
    assert names(admin_client.get("/api/v1/deployments/?name=LAB")) == ["lab-failed", "lab-queued"]
    assert names(admin_client.get("/api/v1/deployments/?created_by=alice&status_group=terminal")) == ["lab-failed"]
    assert names(admin_client.get(f"/api/v1/deployments/?vcenter={synced_vcenter.pk}")) == sorted(rows)
    assert names(admin_client.get(f"/api/v1/deployments/?vcenter={synced_vcenter.pk + 100}")) == []

    bad = admin_client.get("/api/v1/deployments/?status=running,exploded&status_group=sometimes")
    assert bad.status_code == 400
    errors = {error["field"]: error for error in bad.json()["errors"]}
    assert "exploded" in errors["status"]["message"] and "status_group" in errors


def test_a_page_of_deployments_costs_the_same_queries_however_many_rows(admin_client, synced_vcenter):
    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = admin_client.get("/api/v1/deployments/")
        assert response.status_code == 200
        return len(captured)

    for index in range(2):
        bare(synced_vcenter, f"few-{index}")
    few = queries_for_list()
    for index in range(12):
        bare(synced_vcenter, f"many-{index}", "failed" if index % 2 else "running")
    assert admin_client.get("/api/v1/deployments/").json()["count"] == 14
    assert queries_for_list() == few


def test_detail_runs_and_steps(admin_client, synced_vcenter):
    from datetime import timedelta

    from django.utils import timezone

    deployment = bare(synced_vcenter, "cloud1", "failed", steps=((2, "succeeded"), (8, "failed")))
    Run.objects.filter(deployment=deployment).update(status=RunStatus.FAILED, error="Step step-1 failed: no room")
    started = timezone.now() - timedelta(seconds=30)
    StepRun.objects.filter(run__deployment=deployment, key="step-1").update(
        started_at=started, finished_at=started + timedelta(seconds=12.5), attempt=2, error="no room",
        output={"vm": "vm-42"})
    second = Run.objects.create(deployment=deployment, number=2, spec={}, status=RunStatus.RUNNING)
    StepRun.objects.create(run=second, key="preflight", kind="preflight", weight=1, status=StepStatus.RUNNING,
                           started_at=timezone.now() - timedelta(seconds=3), attempt=1)

    detail = admin_client.get(f"/api/v1/deployments/{deployment.pk}/").json()
    assert detail["latest_run"]["number"] == 2 and detail["progress"] == 0.0

    listed = admin_client.get(f"/api/v1/deployments/{deployment.pk}/runs/").json()
    assert [(r["number"], r["status"], r["progress"]) for r in listed] == [(2, "running", 0.0), (1, "failed", 20.0)]

    first = admin_client.get(f"/api/v1/deployments/{deployment.pk}/runs/1/").json()
    assert first["error"] == "Step step-1 failed: no room" and first["can_retry"] is True
    step = first["steps"][1]
    assert {k: step[k] for k in ("key", "kind", "status", "attempt", "duration", "error", "output")} == {
        "key": "step-1", "kind": "preflight", "status": "failed", "attempt": 2, "duration": 12.5, "error": "no room",
        "output": {"vm": "vm-42"}}
    assert step["started_at"] and step["finished_at"]
    running = admin_client.get(f"/api/v1/deployments/{deployment.pk}/runs/2/").json()["steps"][0]
    assert running["finished_at"] is None and running["duration"] >= 3  # counts up while it runs

    missing = admin_client.get(f"/api/v1/deployments/{deployment.pk}/runs/9/")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found" and "no run 9" in missing.json()["message"]


def test_events_are_tailed_with_a_since_cursor(admin_client, synced_vcenter):
    deployment = bare(synced_vcenter, "cloud1")
    run = deployment.runs.get()
    RunEvent.objects.bulk_create([RunEvent(run=run, sequence=n, message=f"event {n}") for n in range(1, 251)])
    url = f"/api/v1/deployments/{deployment.pk}/events/"

    seen, since, answers = [], 0, 0
    while True:
        page = admin_client.get(url, {"since": since}).json()
        answers += 1
        seen += [event["sequence"] for event in page["events"]]
        assert page["run"] == 1 and page["run_status"] == "running" and page["done"] is False
        since = page["next_since"]
        if not page["has_more"]:
            break
    assert seen == list(range(1, 251)) and answers == 3 and since == 250  # 100 a page by default

    quiet = admin_client.get(url, {"since": since}).json()
    assert quiet["events"] == [] and quiet["next_since"] == 250
    runs.log(run, "a step started", step_key="clone:vm-1")
    runs.log(run, "it went wrong", level="error")
    fresh = admin_client.get(url, {"since": since}).json()
    assert [(e["sequence"], e["level"], e["step_key"], e["message"]) for e in fresh["events"]] == [
        (251, "info", "clone:vm-1", "a step started"), (252, "error", "", "it went wrong")]

    Run.objects.filter(pk=run.pk).update(status=RunStatus.FAILED)
    ended = admin_client.get(url, {"since": 250, "limit": 1}).json()
    assert [e["sequence"] for e in ended["events"]] == [251] and ended["has_more"] and not ended["done"]
    ended = admin_client.get(url, {"since": 251, "limit": 1}).json()
    assert ended["done"] is True and ended["has_more"] is False  # the run ended and every event is read

    big = admin_client.get(url, {"limit": 1000}).json()
    assert len(big["events"]) == 252
    for query, field in (({"limit": 1001}, "limit"), ({"limit": 0}, "limit"), ({"since": -1}, "since"), ({"run": "x"}, "run")):
        refused = admin_client.get(url, query)
        assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == field, query
    assert admin_client.get(url, {"run": 2}).status_code == 404


def test_vms_show_addresses_moids_and_power_state_from_the_steps(admin_client, vcsim, synced_vcenter):
    deployment = launched(vcsim)
    run = deployment.runs.get()

    def step(key, status, output=None, error=""):
        StepRun.objects.filter(run=run, key=key).update(status=status, output=output or {}, error=error)

    step("clone:cloud1-lb-01", StepStatus.SUCCEEDED, {"vm": "vm-101"})
    step("customize:cloud1-lb-01", StepStatus.SUCCEEDED, {"ip": "10.20.0.11"})
    step("power_on:cloud1-lb-01", StepStatus.SUCCEEDED, {"vm": "vm-101", "power_state": "poweredOn"})
    step("wait_guest:cloud1-lb-01", StepStatus.SUCCEEDED, {"ip": "10.20.0.11", "hostname": "cloud1-lb-01", "tools": "guestToolsRunning"})
    step("clone:cloud1-db-01", StepStatus.SUCCEEDED, {"vm": "vm-102"})
    step("customize:cloud1-db-01", StepStatus.RUNNING)
    step("clone:cloud1-db-02", StepStatus.FAILED, error="InsufficientResourcesFault: no room on the host")

    answer = admin_client.get(f"/api/v1/deployments/{deployment.pk}/vms/").json()
    assert answer["run"] == 1 and len(answer["vms"]) == 13
    vms = {vm["name"]: vm for vm in answer["vms"]}
    held = dict(IpAllocation.objects.filter(deployment=deployment).values_list("purpose", "address"))
    lb = vms["cloud1-lb-01"]
    assert lb == {"name": "cloud1-lb-01", "role": "lb", "role_label": "Load balancer (internal and public VIP)",
                  "management_ip": held["cloud1-lb-01"], "external_ip": held["cloud1-lb-01 (external)"],
                  "moid": "vm-101", "power_state": "poweredOn", "guest_ip": "10.20.0.11", "hostname": "cloud1-lb-01",
                  "status": "ready", "error": ""}
    assert vms["cloud1-db-01"]["power_state"] == "poweredOff" and vms["cloud1-db-01"]["status"] == "customizing"
    assert vms["cloud1-db-01"]["external_ip"] is None and vms["cloud1-db-01"]["moid"] == "vm-102"
    assert vms["cloud1-db-02"]["status"] == "failed" and "InsufficientResourcesFault" in vms["cloud1-db-02"]["error"]
    assert vms["cloud1-controller-01"]["status"] == "planned" and vms["cloud1-controller-01"]["power_state"] is None

    Deployment.objects.filter(pk=deployment.pk).update(status=DeploymentStatus.TEARING_DOWN)
    removing = {vm["name"]: vm["status"] for vm in admin_client.get(f"/api/v1/deployments/{deployment.pk}/vms/").json()["vms"]}
    assert removing["cloud1-lb-01"] == removing["cloud1-db-01"] == "removing" and removing["cloud1-controller-01"] == "planned"


def test_the_status_snapshot_and_the_page_without_javascript(admin_client, client, vcsim, synced_vcenter):
    deployment = launched(vcsim)
    run = deployment.runs.get()
    StepRun.objects.filter(run=run, key="preflight").update(status=StepStatus.FAILED, error="the spec no longer passes")
    Run.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, error="Step preflight failed: the spec no longer passes")
    Deployment.objects.filter(pk=deployment.pk).update(status=DeploymentStatus.FAILED)
    runs.log(run, "preflight failed.", level="error", step_key="preflight")

    snapshot = admin_client.get(f"/api/v1/deployments/{deployment.pk}/status/", {"since": 1}).json()
    assert snapshot["deployment"] == {"id": deployment.pk, "name": "cloud1", "status": "failed", "status_label": "Failed",
                                      "can_tear_down": True}
    assert snapshot["run"]["can_retry"] is True and snapshot["live"] is False
    assert [e["message"] for e in snapshot["events"]] == ["preflight failed."] and snapshot["next_since"] == 2
    assert len(snapshot["vms"]) == 13 and snapshot["steps"][0]["status"] == "failed"
    assert client.get(f"/api/v1/deployments/{deployment.pk}/status/").status_code in (401, 403)

    page = admin_client.get(f"/deployments/{deployment.pk}/").content.decode()
    assert 'http-equiv="refresh"' not in page and "js/deployment" in page and 'data-live="false"' in page
    assert 'data-since="2"' in page and "preflight failed." in page and "the spec no longer passes" in page
    assert 'id="retry-form" hidden' not in page and 'id="cancel-form" hidden' in page  # what the state allows
    assert 'passes</span><form method="post" action="/deployments/%d/retry/" class="retry-step">' % deployment.pk in page
    held = IpAllocation.objects.get(deployment=deployment, purpose="cloud1-controller-01").address
    assert 'data-name="cloud1-controller-01"' in page and held in page


# --- conditional GET: the polled reads answer 304 until something they show changes --------------


POLLED = ("/api/v1/deployments/{pk}/", "/api/v1/deployments/{pk}/status/?since=0", "/api/v1/deployments/{pk}/events/?since=0",
          "/api/v1/deployments/{pk}/status/", "/api/v1/deployments/{pk}/events/?run=1&limit=5")


@pytest.fixture
def viewer_token(django_user_model):
    from vio_manager.access import roles, tokens

    user = django_user_model.objects.create_user("watcher", password="a-long-password-1")
    roles.set_role(user, roles.VIEWER)
    return tokens.create_token(user, "poller")[1]


def _tags(client, deployment, headers) -> dict[str, str]:
    tags = {}
    for url in POLLED:
        response = client.get(url.format(pk=deployment.pk), **headers)
        assert response.status_code == 200 and response["ETag"].startswith('W/"'), (url, response.status_code)
        tags[url] = response["ETag"]
    return tags


def test_polls_answer_304_with_one_query_until_what_they_show_changes(client, synced_vcenter, viewer_token,
                                                                      django_assert_num_queries):
    from datetime import timedelta

    from django.utils import timezone

    deployment = bare(synced_vcenter, "cloud1")
    run = deployment.runs.get()
    headers = {"HTTP_AUTHORIZATION": f"Token {viewer_token}"}
    tags = _tags(client, deployment, headers)
    assert len(set(tags.values())) == len(POLLED)  # each URL its own tag
    for url, tag in tags.items():
        with django_assert_num_queries(1):  # the token is cached: what the answer is made of, nothing more
            unchanged = client.get(url.format(pk=deployment.pk), HTTP_IF_NONE_MATCH=tag, **headers)
        assert unchanged.status_code == 304 and unchanged.content == b"" and unchanged["ETag"] == tag, url
    assert client.get(POLLED[1].format(pk=deployment.pk), HTTP_IF_NONE_MATCH='W/"another"', **headers).status_code == 200

    later = iter(timezone.now() + timedelta(seconds=n) for n in range(1, 100))
    running = StepRun.objects.filter(run=run, status=StepStatus.RUNNING)
    pending = StepRun.objects.filter(run=run, status=StepStatus.PENDING)

    def claim():  # advance(): the step, and the run's heartbeat, in one transaction
        StepRun.objects.filter(pk=pending.first().pk).update(status=StepStatus.RUNNING, started_at=next(later), attempt=1)
        Run.objects.filter(pk=run.pk).update(heartbeat_at=next(later))

    def finish():  # the executor records the outcome, then its event
        StepRun.objects.filter(pk=running.first().pk).update(status=StepStatus.SUCCEEDED, finished_at=next(later))
        runs.log(run, "Step step-1: succeeded.", step_key="step-1")

    changes = {  # each set of writes the engine and the services make while a deployment is polled
        "a step waits for something": lambda: running.update(waiting_for="vCenter task task-7", waiting_since=next(later)),
        "a step claimed": claim,
        "a step finished": finish,
        "an event": lambda: runs.log(run, "something happened"),
        "the run's heartbeat": lambda: Run.objects.filter(pk=run.pk).update(heartbeat_at=next(later)),
        "a stop requested": lambda: Run.objects.filter(pk=run.pk).update(cancel_requested=True),
        "the run ended": lambda: Run.objects.filter(pk=run.pk).update(status=RunStatus.CANCELLED),
        "the deployment's status": lambda: Deployment.objects.filter(pk=deployment.pk).update(status="cancelled"),
        "the deployment saved": lambda: Deployment.objects.get(pk=deployment.pk).save(),
        "a new run": lambda: Run.objects.create(deployment=deployment, number=2, spec={}, status=RunStatus.PENDING),
    }
    for change, write in changes.items():
        write()
        for url, tag in tags.items():
            if change == "a new run" and "run=1" in url:
                continue  # run 1 itself did not change
            answer = client.get(url.format(pk=deployment.pk), HTTP_IF_NONE_MATCH=tag, **headers)
            assert answer.status_code == 200 and answer["ETag"] != tag, (change, url)
            tags[url] = answer["ETag"]


def test_a_matching_etag_opens_nothing_to_those_who_may_not_read(client, admin_client, synced_vcenter, django_user_model):
    deployment = bare(synced_vcenter, "cloud1")
    url = f"/api/v1/deployments/{deployment.pk}/status/"
    tag = admin_client.get(url)["ETag"]
    assert admin_client.get(url, HTTP_IF_NONE_MATCH=tag).status_code == 304
    assert client.get(url, HTTP_IF_NONE_MATCH=tag).status_code in (401, 403)  # anonymous
    client.force_login(django_user_model.objects.create_user("nobody", password="a-long-password-1"))  # no role
    assert client.get(url, HTTP_IF_NONE_MATCH=tag).status_code == 403
    for missing in (f"/api/v1/deployments/{deployment.pk + 1000}/status/", "/api/v1/deployments/99999999999999999999/",
                    f"/api/v1/deployments/{deployment.pk}/events/?run=9"):
        assert admin_client.get(missing, HTTP_IF_NONE_MATCH=tag).status_code == 404, missing
    # A run number no run can have (past the column's range) is a bad query, said on its field.
    beyond = admin_client.get(f"/api/v1/deployments/{deployment.pk}/status/?run=3000000000", HTTP_IF_NONE_MATCH=tag)
    assert beyond.status_code == 400 and beyond.json()["errors"][0]["field"] == "run"


def test_stop_and_teardown_are_confirmed_and_the_page_says_stopping(admin_client, client, synced_vcenter, django_user_model):
    """Without JavaScript, "Stop deployment" and "Tear down" lead to a page that says what will happen;
    confirmed, the stop shows "Stopping" at once. A viewer gets neither."""
    from vio_manager.access.roles import VIEWER, set_role

    deployment = bare(synced_vcenter, "cloud-stop", "running")
    page = admin_client.get(f"/deployments/{deployment.pk}/").content.decode()
    assert 'id="cancel-form" method="get"' in page and ">Stop deployment</button>" in page and ">Cancel<" not in page
    confirm = admin_client.get(f"/deployments/{deployment.pk}/cancel/").content.decode()
    assert "Stop the deployment cloud-stop?" in confirm and "no new step starts" in confirm and 'method="post"' in confirm
    teardown = admin_client.get(f"/deployments/{deployment.pk}/teardown/").content.decode()
    assert "Tear down cloud-stop?" in teardown and "cannot be undone" in teardown

    viewer = django_user_model.objects.create_user("vic", password="a-long-password-1")
    set_role(viewer, VIEWER)
    client.force_login(viewer)
    assert client.get(f"/deployments/{deployment.pk}/cancel/").status_code == 403
    assert client.post(f"/deployments/{deployment.pk}/cancel/").status_code == 403

    answer = admin_client.post(f"/deployments/{deployment.pk}/cancel/", follow=True)
    shown = answer.content.decode()
    assert Deployment.objects.get(pk=deployment.pk).status == DeploymentStatus.CANCELLING
    assert 'data-status="cancelling" id="deployment-status">Stopping</span>' in shown
    assert "Stopping cloud-stop: the steps running now finish" in shown
    assert 'id="cancel-form" hidden' in shown  # nothing left to stop


def test_the_page_shows_the_settings_in_words_and_the_list_shares_its_colours(admin_client, vcsim, synced_vcenter):
    deployment = launched(vcsim)
    page = admin_client.get(f"/deployments/{deployment.pk}/").content.decode()
    assert 'id="spec"' not in page and '"management_network"' not in page  # no JSON
    for text in ("<h3 id=\"settings-1\">vCenter</h3>", "VIO-Management", "10.20.0.10 – 10.20.0.40", "Public host name",
                 "Compute-A", "VIO-DSwitch", "SQL (users kept by Keystone)", "localhost:514 over UDP"):
        assert text in page, text
    assert "Secret-Admin-1" not in page and 'id="dashboard-url"' not in page  # not deployed yet: no addresses
    assert "Public host name: the public host name resolved to another address" in page  # the warning, in words
    assert 'id="change-configuration"' not in page  # nothing deployed to change

    Deployment.objects.filter(pk=deployment.pk).update(status=DeploymentStatus.SUCCEEDED)
    listed = admin_client.get("/deployments/").content.decode()
    assert '<span class="badge ok" data-status="succeeded">Succeeded</span>' in listed
    page = admin_client.get(f"/deployments/{deployment.pk}/").content.decode()
    assert '<span class="badge ok" data-status="succeeded" id="deployment-status">Succeeded</span>' in page
    assert "&quot;succeeded&quot;: [&quot;ok&quot;, &quot;Succeeded&quot;]" in page  # the same mapping for deployment.js
    assert '<a href="https://localhost/" id="dashboard-url"' in page and "https://localhost:5000/v3" in page
