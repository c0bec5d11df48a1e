"""Deployment health in the browser. In Chromium, on a cloud a real worker deployed on the vCenter
simulator with its live watcher running: a controller powered off with pyVmomi shows up on the open
page, without a reload, as a finding in the health card and as a red outline on that VM in the
topology picture; Repair leads to a page that says what will happen, confirming it starts a repair run,
and health returns to healthy. Over HTTP: a viewer sees the card, the picture and the findings, but no
repair button, and the repair page refuses them (403); the list and the overview show health too."""

import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone
from pyVmomi import vim

from deployments.choices import RunKind, RunStatus
from deployments.plan import Plan, PlannedVm
from deployments.services import health, launch
from inventory.clients.vsphere import collect, wait_for_tasks
from testkit.factories import deployment_with_run, vcenter_row
from testkit.runs import wait_for
from testkit.spec import ACKNOWLEDGED, registered_vcenter, valid_spec
from testkit.watch import watching
from tests.test_security_headers import inline_parts
from vio_manager.access.roles import OPERATOR, VIEWER, set_role
from vio_manager.middleware import CONTENT_SECURITY_POLICY

SHOTS = Path("/tmp/vio-pages")
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(e.violatedDirective + " " + e.blockedURI));
"""


def eventually(check, what: str, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout:g} s: {what}")
        time.sleep(0.2)


def text_is(selector: str, text: str) -> str:
    """A page.wait_for_function body (the policy allows no eval of anything but "() => …")."""
    return (f"() => {{ const n = document.querySelector({selector!r}); "
            f"return n !== null && n.textContent.trim() === {text!r}; }}")


@pytest.mark.browser
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_powered_off_controller_is_seen_marked_and_repaired_in_the_browser(signed_in, live_server, vcsim_factory,
                                                                              celery_worker, ova_url, settings):
    settings.VIO_WATCH_LEASE_SECONDS, settings.VIO_WATCH_RENEW_SECONDS = 4, 1
    settings.VIO_WATCH_POLL_SECONDS, settings.VIO_INVENTORY_LIVE_SECONDS = 1, 5
    page = signed_in
    page.add_init_script(WATCH)
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    simulator = vcsim_factory()
    vcenter = registered_vcenter(simulator)
    deployment = launch.create_deployment(dict(valid_spec(simulator), appliance_ova={"url": ova_url}),
                                          acknowledged={ACKNOWLEDGED})
    assert wait_for(deployment.runs.get(), timeout=240).status == RunStatus.SUCCEEDED
    si = simulator.connect()

    with watching(vcenter.pk):
        eventually(lambda: health.evaluate(deployment).status == health.HEALTHY, "healthy once live", 30)
        page.goto(f"{live_server.url}/deployments/{deployment.pk}/")
        page.evaluate("window.__sameDocument = 'still here'")  # a reload would drop it
        assert page.inner_text("#health-status") == "Healthy" and page.locator("#findings").count() == 0
        assert "From the live picture of vCenter" in page.inner_text("#health-live")
        assert "simulated hosts run no OpenStack" in page.inner_text("#health-openstack")

        # The picture: the management cluster's hosts as columns, every planned VM on one of them,
        # each anti-affinity group in its colour with its legend.
        chart = page.locator("#topology-chart")
        hosts = chart.locator("g.host").evaluate_all("(gs) => gs.map((g) => g.dataset.host)")
        assert len(hosts) >= 2 and hosts == sorted(hosts) and "Not in vCenter" not in hosts
        planned = [vm.name for vm in health._plans([deployment])[deployment.pk].vms]
        drawn = chart.locator('g.box[data-kind="vm"]').evaluate_all("(gs) => gs.map((g) => g.dataset.name)")
        assert sorted(drawn) == sorted(planned)
        assert page.locator('#topology-legend li[data-group="cloud1-controller"]').is_visible()
        stripes = chart.locator('g.box[data-group="cloud1-controller"] rect:nth-of-type(2)').evaluate_all(
            "(rs) => rs.map((r) => r.getAttribute('fill'))")
        assert len(stripes) == 2 and len(set(stripes)) == 1
        assert chart.locator("[data-mark]").count() == 0

        # Drift: a controller powered off behind the appliance's back.
        vm = next(r for r in collect(si, vim.VirtualMachine, ["name"]) if r["name"] == "cloud1-controller-01")
        wait_for_tasks(si, [vm["_obj"].PowerOffVM_Task()], 30)
        finding = '#findings li[data-finding="vm_powered_off:cloud1-controller-01"]'
        page.wait_for_function(f"() => document.querySelector({finding!r}) !== null", timeout=30_000)
        assert page.inner_text("#health-status") == "Failed"
        card = page.inner_text(finding)
        assert "cloud1-controller-01 is powered off." in card and "Power it on." in card and "vm_powered_off" not in card
        assert f"VM cloud1-controller-01 ({vm['_obj']._moId})" in card
        marked = chart.locator('g.box[data-name="cloud1-controller-01"]')
        assert marked.get_attribute("data-mark") == "error"
        assert marked.locator("rect").first.get_attribute("stroke") == "#b3261e"
        assert "cloud1-controller-01 is powered off." in marked.locator("title").text_content()
        assert "Powered off" in marked.text_content()
        assert chart.locator("g.box[data-mark]").evaluate_all("(gs) => gs.map((g) => g.dataset.name)") == [
            "cloud1-controller-01"]
        assert page.evaluate("window.__sameDocument") == "still here" and page.evaluate("window.vioHealth.swaps") >= 1
        SHOTS.mkdir(exist_ok=True)
        page.locator("#health").screenshot(path=str(SHOTS / "health-drift.png"))

        # Repair: a page that says what will happen, then the run, then healthy again.
        with page.expect_navigation():
            page.locator(f"{finding} a.repair").click()
        assert page.url.startswith(f"{live_server.url}/deployments/{deployment.pk}/repair/?finding=")
        what = page.inner_text("#repair-what")
        assert "Power on cloud1-controller-01 in vCenter" in what and "repair run" in what
        assert "cloud1-controller-01 is powered off." in page.inner_text("#repair-finding")
        with page.expect_navigation():
            page.click("#confirm-repair")
        assert page.url == f"{live_server.url}/deployments/{deployment.pk}/"
        assert "Repair started as run 2." in page.inner_text("main")
        run = wait_for(deployment.runs.get(number=2), timeout=120)
        assert run.kind == RunKind.REPAIR and run.status == RunStatus.SUCCEEDED, run.error
        from vio_manager.access.models import AuditEvent

        audited = AuditEvent.objects.get(action="deployment.repair")
        assert audited.username == "admin" and audited.detail["run"] == 2
        assert audited.detail["finding"] == "vm_powered_off:cloud1-controller-01"
        page.wait_for_function(text_is("#health-status", "Healthy"), timeout=60_000)
        assert page.locator("#findings").count() == 0 and chart.locator("[data-mark]").count() == 0
        assert "Powered on" in chart.locator('g.box[data-name="cloud1-controller-01"]').text_content()

    assert page.evaluate("window.__violations") == [] and errors == []


# --- over HTTP: what a viewer and an operator may do --------------------------------------------


def _missing_cloud(name: str = "lostcloud"):
    """A deployed cloud (a run that succeeded, with its plan) on a vCenter whose picture is live but
    holds none of its VMs: each planned VM is a finding that a repair ("make it again") fixes."""
    from deployments.models import Deployment
    from inventory.models import InventoryWatch, WatchState

    vcenter = vcenter_row()
    deployment = deployment_with_run(vcenter, name, "succeeded", steps=((1, "succeeded"),))
    plan = Plan(vms=[PlannedVm(role="controller", role_label="Controller (Horizon, Keystone)", name=f"{name}-controller-{i}",
                               vcpu=8, memory_gb=24, disk_gb=80, datastore="ds-1", management_ip=f"10.0.0.{10 + i}")
                     for i in (1, 2)], internal_vip="10.0.0.9", public_vip="192.0.2.5",
                anti_affinity={f"{name}-controller": [f"{name}-controller-1", f"{name}-controller-2"]})
    deployment.runs.update(plan=plan.as_dict())
    Deployment.objects.filter(pk=deployment.pk).update(spec={"name": name, "management_cluster": "Management",
                                                             "management_network": {"portgroup": "VIO-Management"}})
    now = timezone.now()
    InventoryWatch.objects.create(vcenter=vcenter, holder="test:1:1", token=1, state=WatchState.LIVE, live_since=now,
                                  confirmed_at=now, expires_at=now + timedelta(hours=1))
    return Deployment.objects.get(pk=deployment.pk)


def _client(django_user_model, username: str, role: str) -> Client:
    user = django_user_model.objects.create_user(username, password=f"a-long-{username}-password")
    set_role(user, role)
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_a_viewer_sees_health_but_cannot_repair(django_user_model):
    cloud = _missing_cloud()
    assert health.evaluate(cloud).status == health.FAILED
    finding = f"vm_missing:{cloud.name}-controller-1"
    repair_url = f"/deployments/{cloud.pk}/repair/?finding={finding}"
    viewer = _client(django_user_model, "vera", VIEWER)

    page = viewer.get(f"/deployments/{cloud.pk}/").content.decode()
    assert 'id="health"' in page and 'id="health-status"' in page and ">Failed</span>" in page
    assert f"{cloud.name}-controller-1 is not in vCenter." in page and 'data-finding="' in page
    assert 'id="topology-chart"' in page and 'data-host="Not in vCenter"' in page
    assert 'class="button repair"' not in page and "/repair/" not in page
    fragment = viewer.get(f"/deployments/{cloud.pk}/health/")
    assert fragment.status_code == 200 and fragment.content.decode().lstrip().startswith(("{#", "<div"))
    assert 'id="health-body"' in fragment.content.decode() and "/repair/" not in fragment.content.decode()
    assert viewer.get(repair_url).status_code == 403
    assert viewer.post(f"/deployments/{cloud.pk}/repair/", {"finding": finding}).status_code == 403
    assert cloud.runs.count() == 1  # nothing started
    listed = viewer.get("/deployments/").content.decode()
    assert 'data-status="failed"' in listed and f"{cloud.name}-controller-1 is not in vCenter." in listed
    overview = viewer.get("/").content.decode()
    assert 'id="clouds"' in overview and f'data-name="{cloud.name}"' in overview and "1 failed" in overview

    # An operator gets the button, and a page that says what the repair does before anything is done.
    operator = _client(django_user_model, "otto", OPERATOR)
    page = operator.get(f"/deployments/{cloud.pk}/").content.decode()
    assert page.count('class="button repair"') == 2
    confirm = operator.get(repair_url)
    text = confirm.content.decode()
    assert confirm.status_code == 200 and not inline_parts(text)
    assert confirm["Content-Security-Policy"] == CONTENT_SECURITY_POLICY and confirm["Cache-Control"] == "no-store"
    assert f"Make {cloud.name}-controller-1 again" in text and "on ds-1, given its address 10.0.0.11" in text
    assert f"anti-affinity rule {cloud.name}-controller" in text and "reconfigure the cloud" in text
    assert cloud.runs.count() == 1  # asking is not doing
    # A problem gone by the time it is confirmed: said in words (not its id), nothing started.
    gone = operator.post(f"/deployments/{cloud.pk}/repair/", {"finding": "vm_powered_off:nothing"}, follow=True)
    shown = gone.content.decode()
    assert gone.redirect_chain[-1][0] == f"/deployments/{cloud.pk}/"
    assert "That problem is no longer found" in shown and "vm_powered_off" not in shown
    assert cloud.runs.count() == 1
