"""The run timeline (deployments.services.timeline): runs built in the database with known times,
their segments, lanes and critical path asserted exactly; the API that serves them; the fragment
the deployment page draws and refreshes (SVG, every name escaped)."""

from datetime import datetime, timedelta
from datetime import timezone as tz
from xml.etree import ElementTree

import pytest

from deployments.choices import AttemptOutcome, RunKind, RunStatus, StepStatus
from deployments.models import Deployment, Run, StepAttempt, StepRun
from deployments.plan import teardown_graph
from deployments.services.timeline import page_context, picture, timeline
from inventory import models as m
from vio_manager.access.roles import VIEWER, set_role

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=tz.utc)
SVG = "{http://www.w3.org/2000/svg}"
OK, LOST, FAILED = AttemptOutcome.SUCCEEDED, AttemptOutcome.LOST, AttemptOutcome.FAILED


def at(seconds: float | None):
    return None if seconds is None else T0 + timedelta(seconds=seconds)


@pytest.fixture
def vcenter():
    return m.VCenter.objects.create(name="vc", host="127.0.0.1", port=1, username="administrator@vsphere.local",
                                    password="vc-secret", certificate_sha256="AB:" * 31 + "AB", status="connected")


def make_run(vcenter, name="cloud1", *, number=1, kind=RunKind.DEPLOY, status=RunStatus.SUCCEEDED, start=0.0,
             end=None, deployment=None):
    deployment = deployment or Deployment.objects.create(name=name, vcenter=vcenter, spec={"name": name},
                                                         secrets="{}", status="succeeded")
    run = Run.objects.create(deployment=deployment, number=number, kind=kind, spec={"name": name}, status=status,
                             started_at=at(start), finished_at=at(end))
    Run.objects.filter(pk=run.pk).update(created_at=at(start))
    run.refresh_from_db()
    return run


def step(run, key, *, deps=(), ready=None, status=StepStatus.SUCCEEDED, attempts=(), finished=None):
    """A step and its attempts: each (claimed, started, finished, outcome), seconds after T0."""
    kind, _, target = key.partition(":")
    row = StepRun.objects.create(run=run, key=key, kind=kind, target=target, depends_on=list(deps), status=status,
                                 ready_at=at(ready), attempt=len(attempts), finished_at=at(finished))
    StepAttempt.objects.bulk_create([
        StepAttempt(step=row, number=n, claimed_at=at(claimed), started_at=at(started), finished_at=at(done),
                    outcome=outcome)
        for n, (claimed, started, done, outcome) in enumerate(attempts, start=1)])
    return row


def simple(run, key, deps, ready, claimed, started, finished, outcome=OK, status=StepStatus.SUCCEEDED):
    return step(run, key, deps=deps, ready=ready, status=status, attempts=[(claimed, started, finished, outcome)])


def segs(data, key):
    """A step's segments as (kind, attempt, outcome, start s, end s, seconds, ongoing)."""
    found = next(s for lane in data["lanes"] for s in lane["steps"] if s["key"] == key)
    return [(g["kind"], g["attempt"], g["outcome"], (g["start"] - T0).total_seconds(),
             (g["end"] - T0).total_seconds(), g["seconds"], g["ongoing"]) for g in found["segments"]]


def step_of(data, key):
    return next(s for lane in data["lanes"] for s in lane["steps"] if s["key"] == key)


def small_deploy(vcenter, name="cloud1", vms=("cloud1-db-01", "cloud1-lb-01")):
    """A finished deploy of two VMs; the lb VM is the slow one (its clone waited 30 s for a slot
    and took 90 s), so the critical path runs through it."""
    run = make_run(vcenter, name, end=422)
    a, b = vms
    simple(run, "preflight", (), 0, 0, 1, 5)
    simple(run, "import_ova", ("preflight",), 5, 5, 6, 60)
    simple(run, "folders", ("preflight",), 5, 5, 6, 8)
    simple(run, f"clone:{a}", ("import_ova", "folders"), 60, 60, 61, 100)
    simple(run, f"customize:{a}", (f"clone:{a}",), 100, 100, 101, 110)
    simple(run, f"clone:{b}", ("import_ova", "folders"), 60, 90, 92, 150)
    simple(run, f"customize:{b}", (f"clone:{b}",), 150, 150, 151, 170)
    simple(run, "anti_affinity", (f"customize:{a}", f"customize:{b}"), 170, 170, 171, 172)
    simple(run, f"power_on:{a}", (f"customize:{a}", "anti_affinity"), 172, 172, 173, 175)
    simple(run, f"wait_guest:{a}", (f"power_on:{a}",), 175, 175, 176, 200)
    simple(run, f"power_on:{b}", (f"customize:{b}", "anti_affinity"), 172, 172, 173, 180)
    simple(run, f"wait_guest:{b}", (f"power_on:{b}",), 181, 181, 182, 260)
    simple(run, "render_bundle", (f"wait_guest:{a}", f"wait_guest:{b}"), 260, 260, 261, 265)
    simple(run, "configure", ("render_bundle",), 265, 265, 266, 400)
    simple(run, "validate", ("configure",), 400, 400, 401, 420)
    return run


# --- the service ------------------------------------------------------------------------------


def test_a_lost_attempt_then_a_success_shows_both(vcenter):
    run = make_run(vcenter, end=210)
    step(run, "clone:cloud1-lb-01", ready=10, attempts=[(10, 11, 100, LOST), (130, 131, 200, OK)])

    data = timeline(run)
    assert segs(data, "clone:cloud1-lb-01") == [
        ("queued", 1, "lost", 10, 11, 1.0, False),
        ("running", 1, "lost", 11, 100, 89.0, False),
        ("waiting", None, None, 100, 130, 30.0, False),  # pending again after the loss, until a slot
        ("queued", 2, "succeeded", 130, 131, 1.0, False),
        ("running", 2, "succeeded", 131, 200, 69.0, False),
    ]
    clone = step_of(data, "clone:cloud1-lb-01")
    assert clone["attempts"] == 2 and clone["label"] == "Clone cloud1-lb-01" and clone["critical"] is True
    assert data["totals"] == {"wall_seconds": 210.0, "waiting_seconds": 30.0, "queued_seconds": 2.0,
                              "running_seconds": 158.0, "lost_seconds": 90.0, "attempts": 2, "lost_attempts": 1}
    assert [lane["name"] for lane in data["lanes"]] == ["cloud1-lb-01"]


def test_a_step_that_waited_for_a_slot(vcenter):
    run = make_run(vcenter, end=100)
    simple(run, "clone:cloud1-db-01", (), 20, 50, 51, 90)
    simple(run, "clone:cloud1-db-02", (), 20, 20, 20, 60)  # a slot at once: no waiting segment

    data = timeline(run)
    assert segs(data, "clone:cloud1-db-01") == [
        ("waiting", None, None, 20, 50, 30.0, False),
        ("queued", 1, "succeeded", 50, 51, 1.0, False),
        ("running", 1, "succeeded", 51, 90, 39.0, False),
    ]
    assert segs(data, "clone:cloud1-db-02") == [
        ("queued", 1, "succeeded", 20, 20, 0.0, False), ("running", 1, "succeeded", 20, 60, 40.0, False)]
    assert data["totals"]["waiting_seconds"] == 30.0


def test_a_live_run_counts_up_to_now(vcenter):
    run = make_run(vcenter, status=RunStatus.RUNNING)
    step(run, "clone:cloud1-db-01", ready=0, status=StepStatus.RUNNING, attempts=[(0, 2, None, AttemptOutcome.RUNNING)])
    step(run, "clone:cloud1-db-02", ready=0, status=StepStatus.RUNNING, attempts=[(0, None, None, AttemptOutcome.RUNNING)])
    step(run, "clone:cloud1-db-03", ready=5, status=StepStatus.PENDING)  # no room for it yet
    step(run, "customize:cloud1-db-03", deps=("clone:cloud1-db-03",), status=StepStatus.PENDING)

    data = timeline(run, now=at(60))
    assert data["live"] is True and (data["end"] - T0).total_seconds() == 60
    assert segs(data, "clone:cloud1-db-01") == [
        ("queued", 1, "running", 0, 2, 2.0, False), ("running", 1, "running", 2, 60, 58.0, True)]
    assert segs(data, "clone:cloud1-db-02") == [("queued", 1, "running", 0, 60, 60.0, True)]
    assert segs(data, "clone:cloud1-db-03") == [("waiting", None, None, 5, 60, 55.0, True)]
    assert segs(data, "customize:cloud1-db-03") == [] and step_of(data, "customize:cloud1-db-03")["start"] is None
    # Every VM has its lane from the start, in plan order, whether its steps began or not.
    assert [lane["name"] for lane in data["lanes"]] == ["cloud1-db-01", "cloud1-db-02", "cloud1-db-03"]


def test_the_critical_path_runs_through_the_slowest_vm(vcenter):
    run = small_deploy(vcenter)

    data = timeline(run)
    assert [lane["name"] for lane in data["lanes"]] == ["Shared", "cloud1-db-01", "cloud1-lb-01"]
    shared = data["lanes"][0]
    assert [s["key"] for s in shared["steps"]] == ["preflight", "import_ova", "folders", "anti_affinity",
                                                   "render_bundle", "configure", "validate"]
    assert shared["rows"] == 2 and step_of(data, "folders")["row"] == 1 and step_of(data, "import_ova")["row"] == 0
    assert [lane["rows"] for lane in data["lanes"][1:]] == [1, 1]
    assert [s["key"] for s in data["lanes"][2]["steps"]] == [
        "clone:cloud1-lb-01", "customize:cloud1-lb-01", "power_on:cloud1-lb-01", "wait_guest:cloud1-lb-01"]

    critical = data["critical_path"]
    assert [s["key"] for s in critical["steps"]] == [
        "preflight", "import_ova", "clone:cloud1-lb-01", "customize:cloud1-lb-01", "anti_affinity",
        "power_on:cloud1-lb-01", "wait_guest:cloud1-lb-01", "render_bundle", "configure", "validate"]
    assert critical["steps"][2] == {"key": "clone:cloud1-lb-01", "label": "Clone cloud1-lb-01", "seconds": 90.0}
    # 420 s to the end of validate: 30 s waiting for a slot (the lb clone), 11 s queued (1 s a step, 2 s
    # for the lb clone), 378 s running, 1 s between steps (wait_guest was ready 1 s after its power-on).
    assert {k: v for k, v in critical.items() if k != "steps"} == {
        "seconds": 420.0, "waiting_seconds": 30.0, "queued_seconds": 11.0, "running_seconds": 378.0,
        "other_seconds": 1.0}
    flagged = {s["key"] for lane in data["lanes"] for s in lane["steps"] if s["critical"]}
    assert flagged == {s["key"] for s in critical["steps"]}
    assert data["totals"]["wall_seconds"] == 422.0 and data["live"] is False


def test_a_teardown_run_is_one_shared_lane(vcenter):
    run = make_run(vcenter, kind=RunKind.TEARDOWN, end=47)
    times = {"remove_rules": (0, 2), "remove_files": (0, 3), "remove_vms": (2, 30), "remove_pool": (30, 31),
             "remove_folder": (30, 32), "remove_template": (30, 40), "verify_removed": (40, 45),
             "release_addresses": (45, 46)}
    for definition in teardown_graph():
        ready, done = times[definition.key]
        simple(run, definition.key, definition.depends_on, ready, ready, ready, done)

    data = timeline(run)
    assert data["kind"] == "teardown" and len(data["lanes"]) == 1
    lane = data["lanes"][0]
    assert lane["name"] == "Shared" and lane["vm"] == "" and lane["rows"] == 3
    assert {s["key"]: s["row"] for s in lane["steps"]} == {
        "remove_rules": 0, "remove_files": 1, "remove_vms": 0, "remove_pool": 0, "remove_folder": 1,
        "remove_template": 2, "verify_removed": 0, "release_addresses": 0}
    assert [s["key"] for s in data["critical_path"]["steps"]] == [
        "remove_rules", "remove_vms", "remove_template", "verify_removed", "release_addresses"]
    assert data["critical_path"]["seconds"] == 46.0 and data["critical_path"]["running_seconds"] == 46.0
    assert step_of(data, "remove_template")["label"] == "Remove the appliance template"


def test_a_resumed_step_waits_from_its_new_readiness_not_from_the_failure(vcenter):
    run = make_run(vcenter, end=700)
    # Attempt 1 failed at 100; a person resumed at 600, the step was ready again at 601 and got a slot at 605.
    step(run, "power_on:cloud1-db-01", ready=601, attempts=[(10, 11, 100, FAILED), (605, 606, 650, OK)])

    assert segs(timeline(run), "power_on:cloud1-db-01") == [
        ("queued", 1, "failed", 10, 11, 1.0, False), ("running", 1, "failed", 11, 100, 89.0, False),
        ("waiting", None, None, 601, 605, 4.0, False),
        ("queued", 2, "succeeded", 605, 606, 1.0, False), ("running", 2, "succeeded", 606, 650, 44.0, False)]


def test_a_timeline_costs_two_queries_whatever_the_runs_size(vcenter, django_assert_num_queries):
    small = small_deploy(vcenter, "small")
    big = small_deploy(vcenter, "big", vms=("big-a-01", "big-b-01"))
    for index in range(11):  # 13 VMs, each with its four steps and two attempts of its clone
        vm = f"big-c-{index:02d}"
        step(big, f"clone:{vm}", deps=("import_ova",), ready=60, attempts=[(60, 61, 70, LOST), (80, 81, 99, OK)])
        for kind in ("customize", "power_on", "wait_guest"):
            simple(big, f"{kind}:{vm}", (), 100, 100, 101, 110)
    with django_assert_num_queries(2):
        timeline(small)
    with django_assert_num_queries(2):
        data = timeline(big)
    assert len(data["lanes"]) == 14 and data["totals"]["lost_attempts"] == 11


# --- the picture --------------------------------------------------------------------------------


def test_the_picture_places_bars_on_the_time_axis(vcenter):
    run = small_deploy(vcenter)
    data = timeline(run)
    drawn = picture(data)
    assert drawn["ticks"][0] == {"x": 184, "label": "0"}
    assert [t["label"] for t in drawn["ticks"]] == ["0", "1 min", "2 min", "3 min", "4 min", "5 min", "6 min", "7 min"]
    bar = next(b for b in drawn["bars"] if b["step"] == "clone:cloud1-lb-01" and "seg-running" in b["cls"])
    def x(seconds):
        return round(184 + seconds / 422 * 970, 1)

    assert bar["x"] == x(92) and bar["w"] == round(x(150) - x(92), 1) and bar["h"] == 12
    assert bar["title"] == ("Clone cloud1-lb-01, attempt 1 of 1: running, 12:01:32–12:02:30 UTC, 58 s; succeeded"
                            " (on the critical path)")
    waiting = next(b for b in drawn["bars"] if b["step"] == "clone:cloud1-lb-01" and "seg-waiting" in b["cls"])
    assert waiting["title"] == "Clone cloud1-lb-01: waiting for a slot, 12:01:00–12:01:30 UTC, 30 s (on the critical path)"
    assert len(drawn["outlines"]) == 10 and len(drawn["links"]) == 9 and drawn["retries"] == []
    assert drawn["critical"]["seconds"] == "7 min 00 s" and drawn["now_x"] is None


def fragment_root(html: str) -> ElementTree.Element:
    """The fragment is well-formed markup: parse it as XML, as a strict SVG reader would."""
    return ElementTree.fromstring(html.replace("&nbsp;", "&#160;"))


def test_the_fragment_escapes_every_name(vcenter, admin_client):
    nasty = 'x<script>alert("1")</script>&\'"]]>-01'
    run = make_run(vcenter, "nasty", end=30)
    step(run, f"clone:{nasty}", ready=0, attempts=[(0, 1, 10, LOST), (12, 13, 25, OK)])

    response = admin_client.get(f"/deployments/{run.deployment_id}/runs/1/timeline/")
    assert response.status_code == 200 and response["Cache-Control"].startswith("max-age=0")
    html = response.content.decode()
    assert "<script>" not in html
    root = fragment_root(html)
    svg = root.find(f".//{SVG}svg[@id='timeline-chart']")
    label = next(t for t in svg.iter(f"{SVG}text") if "lane-label" in t.get("class"))
    assert label.find(f"{SVG}title").text == nasty
    titles = [r.find(f"{SVG}title").text for r in svg.iter(f"{SVG}rect") if "seg-running" in (r.get("class") or "")]
    assert titles == [f"Clone {nasty}, attempt 1 of 2: running, 12:00:01–12:00:10 UTC, 9.0 s; worker lost"
                      " (on the critical path)",
                      f"Clone {nasty}, attempt 2 of 2: running, 12:00:13–12:00:25 UTC, 12 s; succeeded"
                      " (on the critical path)"]
    assert root.get("data-live") == "false"
    retry = next(svg.iter(f"{SVG}polygon"))  # the second attempt is marked where it begins
    assert retry.get("data-step") == f"clone:{nasty}" and retry.find(f"{SVG}title").text == "attempt 2"

    assert admin_client.get(f"/deployments/{run.deployment_id}/runs/2/timeline/").status_code == 404
    assert admin_client.get(f"/deployments/{run.deployment_id + 1}/runs/1/timeline/").status_code == 404


def test_the_deployment_page_draws_the_timeline_of_its_latest_run(vcenter, admin_client):
    run = small_deploy(vcenter)
    second = make_run(vcenter, number=2, deployment=run.deployment, status=RunStatus.RUNNING, start=500)
    simple(second, "preflight", (), 500, 500, 501, 510)

    page = admin_client.get(f"/deployments/{run.deployment_id}/").content.decode()
    assert 'data-url="/deployments/%d/runs/2/timeline/"' % run.deployment_id in page
    assert 'id="timeline-chart"' in page and "/static/js/timeline." in page
    assert '<div id="timeline-body" data-live="true" data-run="2">' in page
    assert 'data-step="preflight"' in page and "clone:cloud1-lb-01" not in page  # run 2's steps only


def test_the_fragment_needs_a_signed_in_user_with_a_role(vcenter, client, django_user_model):
    run = small_deploy(vcenter)
    url = f"/deployments/{run.deployment_id}/runs/1/timeline/"
    assert client.get(url).status_code == 302  # to the login page
    viewer = django_user_model.objects.create_user("viewer-user", password="a-long-password-1")
    set_role(viewer, VIEWER)
    client.force_login(viewer)
    assert client.get(url).status_code == 200
    assert client.post(url).status_code == 405


# --- the API ------------------------------------------------------------------------------------


def test_the_api_serves_the_timeline_of_a_run(vcenter, admin_client, client, django_user_model):
    run = small_deploy(vcenter)
    step(run, "clone:cloud1-extra-01", ready=60, attempts=[(60, 61, 70, LOST), (75, None, 80, LOST),
                                                            (85, 86, 99, OK)])
    url = f"/api/v1/deployments/{run.deployment_id}/runs/1/timeline/"

    body = admin_client.get(url).json()
    assert set(body) == {"run", "kind", "status", "live", "start", "end", "lanes", "critical_path", "totals"}
    assert body["run"] == 1 and body["kind"] == "deploy" and body["status"] == "succeeded" and body["live"] is False
    assert body["start"] == "2025-03-01T12:00:00Z" and body["end"] == "2025-03-01T12:07:02Z"
    assert [lane["name"] for lane in body["lanes"]] == ["Shared", "cloud1-db-01", "cloud1-lb-01", "cloud1-extra-01"]
    extra = body["lanes"][3]["steps"][0]
    assert [(s["kind"], s["attempt"], s["outcome"], s["start"], s["end"], s["seconds"]) for s in extra["segments"]] == [
        ("queued", 1, "lost", "2025-03-01T12:01:00Z", "2025-03-01T12:01:01Z", 1.0),
        ("running", 1, "lost", "2025-03-01T12:01:01Z", "2025-03-01T12:01:10Z", 9.0),
        ("waiting", None, None, "2025-03-01T12:01:10Z", "2025-03-01T12:01:15Z", 5.0),
        ("queued", 2, "lost", "2025-03-01T12:01:15Z", "2025-03-01T12:01:20Z", 5.0),  # no worker ever took it
        ("waiting", None, None, "2025-03-01T12:01:20Z", "2025-03-01T12:01:25Z", 5.0),
        ("queued", 3, "succeeded", "2025-03-01T12:01:25Z", "2025-03-01T12:01:26Z", 1.0),
        ("running", 3, "succeeded", "2025-03-01T12:01:26Z", "2025-03-01T12:01:39Z", 13.0)]
    assert extra["attempts"] == 3 and extra["critical"] is False and extra["label"] == "Clone cloud1-extra-01"
    assert body["critical_path"]["seconds"] == 420.0 and len(body["critical_path"]["steps"]) == 10
    assert body["totals"]["lost_seconds"] == 15.0 and body["totals"]["lost_attempts"] == 2

    missing = admin_client.get(f"/api/v1/deployments/{run.deployment_id}/runs/7/timeline/")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert client.get(url).status_code == 401
    viewer = django_user_model.objects.create_user("viewer-user", password="a-long-password-1")
    set_role(viewer, VIEWER)
    client.force_login(viewer)
    assert client.get(url).status_code == 200  # a viewer reads it, like the run itself


def test_page_context_of_a_run_without_steps(vcenter):
    run = make_run(vcenter, status=RunStatus.PENDING)
    context = page_context(run)
    assert context["timeline"]["lanes"] == [] and context["timeline"]["critical_path"]["steps"] == []
    assert context["picture"]["bars"] == [] and context["picture"]["height"] == 30
