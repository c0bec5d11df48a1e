"""The deployment page in Chromium while a real worker runs the deployment on the vCenter simulator:
new events, step statuses, the failed step's error and its retry button, the progress and the VM
table all change in place, without the page reloading; polling stops once the run has ended. And
its conditional polls: the last answer's ETag sent back, 304s while nothing changes."""

import re

import pytest

from deployments.services import launch, runs
from testkit.factories import deployment_with_run, vcenter_row
from testkit.spec import registered_vcenter, valid_spec

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ACK = "hostname_other_address@load_balancer.public_hostname"


def mark_document(page) -> None:
    """A marker that only survives as long as this very document does: a reload would drop it."""
    page.evaluate("window.__sameDocument = 'still here'")


def same_document(page) -> bool:
    return page.evaluate("window.__sameDocument") == "still here"


def wait_text(page, selector: str, text: str, timeout: float = 60_000) -> None:
    page.wait_for_function("([s, t]) => { const n = document.querySelector(s); return n && n.textContent.trim() === t; }",
                           arg=[selector, text], timeout=timeout)


def test_the_page_follows_the_run_live_without_reloading(signed_in, live_server, vcsim_factory, celery_worker, ova_url):
    page = signed_in
    fresh = vcsim_factory()
    registered_vcenter(fresh)
    # Slow enough to watch: each clone takes 2.5 s, and the first power-on fails after 1 s.
    fresh.inject(method="CloneVM_Task", delay=2500, count="all")
    fresh.inject(method="PowerOnVM_Task", fault="InsufficientResourcesFault", delay=1000, count=1)
    data = valid_spec(fresh)
    data.update(name="web1", topology="compact", appliance_ova={"url": ova_url})
    deployment = launch.create_deployment(data, acknowledged={ACK})  # the worker starts on it at once

    page.goto(f"{live_server.url}/deployments/{deployment.pk}/")
    assert page.get_attribute("#deployment", "data-live") == "true"
    mark_document(page)
    events_at_load = page.locator("#events li").count()
    clone = 'tr[data-key="clone:web1-control-01"] .step-status'
    assert page.inner_text(clone) != "Succeeded"

    page.wait_for_function("(n) => document.querySelectorAll('#events li').length > n", arg=events_at_load, timeout=30_000)
    wait_text(page, clone, "Succeeded", 30_000)
    assert same_document(page)

    # The power-on fault fails the run: the step's error and both retry buttons appear in place.
    page.wait_for_selector("#retry-form", state="visible", timeout=60_000)
    failed = page.locator("#steps tbody tr", has=page.locator(".badge.err"))
    assert failed.count() == 1 and "Powering on web1-" in failed.inner_text() and "Insufficient resources" in failed.inner_text()
    assert failed.get_attribute("data-key").startswith("power_on:web1-")
    assert failed.locator("form.retry-step button").is_visible()
    assert page.is_hidden("#cancel-form") and page.is_visible("#teardown-form")
    assert page.inner_text("#deployment-status") == "Failed" and "Power on web1-" in page.inner_text("#run-error")
    assert "failed" in page.inner_text("#vms")
    page.wait_for_function("() => window.vioDeployment.stopped === true", timeout=10_000)  # the run ended: no more polls
    assert page.evaluate("window.vioDeployment.polls") >= 2 and same_document(page)

    # Retry from the failed step's own button (a CSRF-protected POST that comes back to the page).
    fresh.inject(method="PowerOnVM_Task", delay=2000, count="all")
    with page.expect_navigation():
        failed.locator("form.retry-step button").click()
    assert page.get_attribute("#deployment", "data-live") == "true"
    mark_document(page)
    wait_text(page, "#deployment-status", "Succeeded")
    assert same_document(page)
    assert page.inner_text("#progress") == "100%" and page.is_hidden("#retry-form") and page.is_hidden("#run-error")
    assert "Run 1 succeeded." in page.inner_text("#events li:first-child")  # newest first

    rows = page.locator("#vms tbody tr")
    assert rows.count() == 2
    for index in range(2):
        name, role, management, external, guest, power, vm_status, moid = [
            cell.strip() for cell in rows.nth(index).locator("td").all_inner_texts()]
        assert re.fullmatch(r"10\.20\.0\.\d+", management) and guest == management
        assert power == "poweredOn" and vm_status == "ready" and re.fullmatch(r"vm-\d+", moid)
        assert (external != "—") == (role == "All OpenStack services (compact)")  # the control VM, named for people


def test_polls_send_the_last_etag_and_keep_the_page_through_304s(signed_in, live_server):
    from datetime import timedelta

    from django.utils import timezone

    page = signed_in
    deployment = deployment_with_run(vcenter_row(), "quiet1", steps=((1, "succeeded"), (1, "running")),
                                     started=timezone.now() - timedelta(seconds=30))
    polls = []  # (If-None-Match sent, status answered)
    page.on("response", lambda r: polls.append((r.request.headers.get("if-none-match"), r.status))
            if "/status/" in r.url else None)
    page.goto(f"{live_server.url}/deployments/{deployment.pk}/")
    mark_document(page)
    running = 'tr[data-key="step-1"] .step-duration'
    page.wait_for_function("() => window.vioDeployment.notModified >= 3", timeout=20_000)
    first = float(page.inner_text(running).split()[0])
    page.wait_for_function("() => window.vioDeployment.notModified >= 5", timeout=20_000)
    assert float(page.inner_text(running).split()[0]) > first  # counts on through the 304s
    assert polls[0] == (None, 200) and len(polls) >= 5
    assert all(tag and tag.startswith('W/"') and status == 304 for tag, status in polls[1:5]), polls

    runs.log(deployment.runs.get(), "Something new happened.")
    page.wait_for_function("() => document.querySelector('#events li') !== null && "
                           "document.querySelector('#events li').textContent.includes('Something new happened.')",
                           timeout=10_000)
    assert any(status == 200 for _, status in polls[5:]) and same_document(page)


def test_settings_addresses_revisions_older_events_and_a_confirmed_stop(signed_in, live_server, vcsim, nsxv, django_user_model):
    from deployments.models import RunEvent
    from testkit import pages

    page = signed_in
    world = pages.build(vcsim, nsxv, django_user_model.objects.get(username="admin"))
    cloud = world.cloud
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(f"{live_server.url}/deployments/{cloud.pk}/")

    # The settings as VIO's "Ready to complete", in its order, not JSON; the cloud's addresses.
    assert page.locator("#settings h3").all_inner_texts() == [
        "vCenter", "Management cluster", "Management network", "External network", "Load balancer",
        "Nova compute clusters", "Glance", "Neutron", "Keystone", "Syslog", "Appliance OVA"]
    settings = page.inner_text("#settings")
    assert "{" not in settings and '"' not in settings and page.locator("#spec").count() == 0
    for text in ("VIO-Management", "10.20.0.150 – 10.20.0.170", "192.0.2.7", "Compute-B", "VIO-Data-Trunk",
                 "SQL (users kept by Keystone)", "syslog.example.com:1514 over TCP", "https://127.0.0.1:8443/vio-appliance.ova"):
        assert text in settings, text
    assert page.get_attribute("#dashboard-url", "href") == "https://localhost/"
    assert page.inner_text("#keystone-url") == "https://localhost:5000/v3"
    assert "revision 2: Add Compute-B, syslog over TCP" in page.inner_text("#access")
    assert page.get_attribute("#change-configuration", "href") == f"/deployments/{cloud.pk}/change/"

    # Revisions, newest first, each with its difference from the one before.
    rows = page.locator("#revision-list tbody tr")
    assert rows.count() == 2
    newest, first = rows.nth(0).inner_text(), rows.nth(1).inner_text()
    assert newest.startswith("2") and "current" in newest and "Add Compute-B" in newest and "admin" in newest
    assert "Syslog server: localhost → syslog.example.com" in newest and "Compute cluster Compute-B: — → added" in newest
    assert "Syslog protocol: udp → tcp" in newest and "the first configuration" in first and "current" not in first
    page.locator("#settings").screenshot(path="/tmp/vio-pages/detail-settings-1440.png")
    page.locator("#revisions").screenshot(path="/tmp/vio-pages/detail-revisions-1440.png")

    # The event log pages back to the run's first event.
    total = RunEvent.objects.filter(run=cloud.runs.get()).count()
    assert total > 130 and page.locator("#events li").count() == 50
    while page.is_visible("#older-events"):
        shown = page.locator("#events li").count()
        page.click("#older-events")
        page.wait_for_function("(n) => document.querySelectorAll('#events li').length > n", arg=shown)
    sequences = page.locator("#events li").evaluate_all("(items) => items.map((i) => Number(i.dataset.sequence))")
    assert sequences == list(range(total, 0, -1))
    assert page.inner_text("#older-note") == "This is the run's first event."
    assert page.inner_text("#events li:last-child").split(" ", 1)[1].startswith("Run 1 created")

    # A failed first deployment has nothing to change yet; a failed teardown says why at the top.
    page.goto(f"{live_server.url}/deployments/{world.failed.pk}/")
    assert page.locator("#change-configuration").count() == 0 and page.is_visible("#retry-form")
    page.goto(f"{live_server.url}/deployments/{world.down.pk}/")
    alert = page.locator("#teardown-failure")
    assert alert.is_visible() and "locked by a backup job" in alert.inner_text() and "resume the run" in alert.inner_text()
    assert alert.evaluate("(n) => n.getBoundingClientRect().top") < 250  # at the top, above the status
    assert page.locator("#change-configuration").count() == 0

    # "Stop deployment": a confirmation that says what happens, then "Stopping" at once.
    running = deployment_with_run(world.vcenter, "pagerun", "running")
    page.goto(f"{live_server.url}/deployments/{running.pk}/")
    assert page.inner_text("#cancel") == "Stop deployment" and "Cancel" not in page.inner_text(".page-head")
    page.click("#cancel")
    assert page.is_visible("#stop-dialog") and "no new step starts" in page.inner_text("#stop-dialog")
    page.locator("#stop-dialog").screenshot(path="/tmp/vio-pages/stop-dialog.png")
    page.click("#stop-dialog [data-close-dialog]")
    assert page.is_hidden("#stop-dialog") and page.inner_text("#deployment-status") == "Running"
    # "Stopping" is shown before the server answers: what the status said as the browser began to leave the
    # page (beforeunload comes before the request is sent) is kept for the next page to read. No request is
    # held at a route: a held request could hang the browser's driver on a slow machine.
    page.evaluate("() => addEventListener('beforeunload', () => sessionStorage.setItem('status-on-leaving', "
                  "document.querySelector('#deployment-status').textContent))")
    page.click("#cancel")
    with page.expect_navigation():
        page.click("#stop-confirm")
    assert page.evaluate("() => sessionStorage.getItem('status-on-leaving')") == "Stopping"
    assert page.inner_text("#deployment-status") in ("Stopping", "Stopped")
    assert "Stopping pagerun" in page.inner_text("main")
