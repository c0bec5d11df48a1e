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
    assert page.inner_text(clone) != "succeeded"

    page.wait_for_function("(n) => document.querySelectorAll('#events li').length > n", arg=events_at_load, timeout=30_000)
    wait_text(page, clone, "succeeded", 30_000)
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
    page.wait_for_function("window.vioDeployment.stopped === true", timeout=10_000)  # the run ended: no more polls
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
        assert (external != "—") == (role == "control")  # the control VM also has an external address


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
    page.wait_for_function("window.vioDeployment.notModified >= 3", timeout=20_000)
    first = float(page.inner_text(running).split()[0])
    page.wait_for_function("window.vioDeployment.notModified >= 5", timeout=20_000)
    assert float(page.inner_text(running).split()[0]) > first  # counts on through the 304s
    assert polls[0] == (None, 200) and len(polls) >= 5
    assert all(tag and tag.startswith('W/"') and status == 304 for tag, status in polls[1:5]), polls

    runs.log(deployment.runs.get(), "Something new happened.")
    page.wait_for_function("document.querySelector('#events li') !== null && "
                           "document.querySelector('#events li').textContent.includes('Something new happened.')",
                           timeout=10_000)
    assert any(status == 200 for _, status in polls[5:]) and same_document(page)
