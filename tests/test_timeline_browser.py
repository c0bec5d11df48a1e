"""The run timeline on the deployment page, in Chromium: a 40-minute run of 13 VMs (a lost clone
among them) drawn as lanes with the critical path marked, refreshed in place while the run is live
and no more once it ended, under a Content-Security-Policy without inline script; at a phone's
390 px the page does not overflow sideways (the chart scrolls inside its card)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from deployments.choices import AttemptOutcome, RunStatus, StepStatus
from deployments.models import Deployment, Run, StepAttempt, StepRun
from inventory import models as m

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROLES = ("controller-01", "controller-02", "db-01", "db-02", "db-03", "lb-01", "lb-02", "memcache-01",
         "rabbitmq-01", "compute-01", "swift-01", "dhcp-01", "dhcp-02")
LOST_VM = "cloud1-dhcp-02"  # in the last group of four clones: the slowest VM
SCREENSHOT = "/tmp/timeline.png"


class Builder:
    """Steps and attempts of a run, in seconds after its start."""

    def __init__(self, run, start):
        self.run, self.start = run, start

    def at(self, seconds):
        return None if seconds is None else self.start + timedelta(seconds=seconds)

    def step(self, key, deps=(), ready=0, attempts=(), status=StepStatus.SUCCEEDED):
        kind, _, target = key.partition(":")
        row = StepRun.objects.create(run=self.run, key=key, kind=kind, target=target, depends_on=list(deps),
                                     status=status, ready_at=self.at(ready), attempt=len(attempts))
        StepAttempt.objects.bulk_create([
            StepAttempt(step=row, number=n, claimed_at=self.at(c), started_at=self.at(s), finished_at=self.at(f),
                        outcome=outcome) for n, (c, s, f, outcome) in enumerate(attempts, start=1)])
        return max((f for _, _, f, _ in attempts if f is not None), default=None)


def forty_minute_run():
    """A deploy of 13 VMs 40 minutes in: the OVA import took 10 minutes, four clones at a time
    (the others waited for a slot), one clone's worker was lost, and kolla-ansible runs now."""
    now = timezone.now()
    vcenter = m.VCenter.objects.create(name="vc", host="127.0.0.1", port=1, username="administrator@vsphere.local",
                                       password="vc-secret", certificate_sha256="AB:" * 31 + "AB", status="connected")
    deployment = Deployment.objects.create(name="cloud1", vcenter=vcenter, spec={"name": "cloud1"}, secrets="{}",
                                           status="running")
    start = now - timedelta(minutes=40)
    run = Run.objects.create(deployment=deployment, number=1, spec={"name": "cloud1"}, status=RunStatus.RUNNING,
                             started_at=start)
    b = Builder(run, start)
    ok = AttemptOutcome.SUCCEEDED
    b.step("preflight", (), 0, [(0, 1, 20, ok)])
    imported = b.step("import_ova", ("preflight",), 20, [(20, 21, 600, ok)])
    b.step("folders", ("preflight",), 20, [(20, 21, 25, ok)])
    vms = [f"cloud1-{role}" for role in ROLES]
    customized = {}
    for index, vm in enumerate(vms):
        claim = imported + (index // 4) * 200  # four clones at a time
        if vm == LOST_VM:
            attempts = [(claim, claim + 2, claim + 90, AttemptOutcome.LOST), (claim + 130, claim + 131, claim + 300, ok)]
        else:
            attempts = [(claim, claim + 2, claim + 170, ok)]
        cloned = b.step(f"clone:{vm}", ("import_ova", "folders"), imported, attempts)
        customized[vm] = b.step(f"customize:{vm}", (f"clone:{vm}",), cloned, [(cloned, cloned + 1, cloned + 30, ok)])
    rules = max(customized.values())
    rules_done = b.step("anti_affinity", tuple(f"customize:{vm}" for vm in vms), rules, [(rules, rules + 1, rules + 3, ok)])
    guests = []
    for index, vm in enumerate(vms):
        on = b.step(f"power_on:{vm}", (f"customize:{vm}", "anti_affinity"), rules_done,
                    [(rules_done, rules_done + 1, rules_done + 6, ok)])
        guests.append(b.step(f"wait_guest:{vm}", (f"power_on:{vm}",), on, [(on, on + 1, on + 60 + index * 10, ok)]))
    ready = max(guests)
    rendered = b.step("render_bundle", tuple(f"wait_guest:{vm}" for vm in vms), ready, [(ready, ready + 1, ready + 10, ok)])
    b.step("configure", ("render_bundle",), rendered, [(rendered, rendered + 1, None, AttemptOutcome.RUNNING)],
           status=StepStatus.RUNNING)
    b.step("validate", ("configure",), None, [], status=StepStatus.PENDING)
    return deployment, run, vms


def finish(run):
    now = timezone.now()
    StepAttempt.objects.filter(step__run=run, step__key="configure").update(finished_at=now, outcome="succeeded")
    StepRun.objects.filter(run=run, key="configure").update(status=StepStatus.SUCCEEDED, finished_at=now)
    StepRun.objects.filter(run=run, key="validate").update(status=StepStatus.SKIPPED, ready_at=now, finished_at=now)
    Run.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED, finished_at=now)
    Deployment.objects.filter(pk=run.deployment_id).update(status="succeeded")


def overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def test_the_timeline_shows_where_a_forty_minute_run_went(signed_in, live_server):
    page = signed_in
    deployment, run, vms = forty_minute_run()
    url = f"{live_server.url}/deployments/{deployment.pk}/"
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.set_viewport_size({"width": 1280, "height": 1000})
    answer = page.goto(url)
    assert "script-src 'self'" in answer.headers["content-security-policy"]  # the appliance's own: no inline script

    chart = page.locator("#timeline-chart")
    labels = chart.locator("text.lane-label")
    assert labels.count() == 14
    assert [labels.nth(i).locator("title").text_content() for i in range(14)] == ["Shared", *vms]
    lost = chart.locator(f'rect.seg-running.o-lost[data-step="clone:{LOST_VM}"]')
    assert lost.count() == 1
    assert lost.locator("title").text_content().startswith(f"Clone {LOST_VM}, attempt 1 of 2: running, ")
    assert "worker lost" in lost.locator("title").text_content()
    assert chart.locator(f'rect.seg-running.o-succeeded[data-step="clone:{LOST_VM}"]').count() == 1
    assert chart.locator(f'polygon.retry-mark[data-step="clone:{LOST_VM}"]').count() == 1
    assert chart.locator("rect.seg-waiting").count() >= 9  # the clones that waited for one of four slots

    # The critical path: the 10-minute import, the lost clone's VM (its retry ended last), kolla-ansible.
    path = page.locator("#timeline-critical .critical-path li")
    keys = [path.nth(i).get_attribute("data-key") for i in range(path.count())]
    assert keys[:3] == ["preflight", "import_ova", f"clone:{LOST_VM}"] and keys[-1] == "configure"
    outlined = chart.locator("rect.critical-outline")
    assert sorted(outlined.nth(i).get_attribute("data-step") for i in range(outlined.count())) == sorted(keys)
    assert chart.locator("line.critical-link").count() == len(keys) - 1
    assert chart.locator("line.now").count() == 1
    assert "has been going for" in page.inner_text("#timeline-summary")
    # Coloured by the stylesheet (not black, the SVG default): the CSS is the appliance's own.
    assert lost.evaluate("r => getComputedStyle(r).fill") == "rgb(224, 138, 0)"
    page.locator("#timeline").screenshot(path=SCREENSHOT)

    # Live: the chart is fetched again and swapped in place; once the run has ended, no more.
    page.evaluate("window.__sameDocument = 'still here'")
    page.wait_for_function("() => window.vioTimeline.refreshes >= 1", timeout=15_000)
    assert page.evaluate("window.vioTimeline.stopped") is False
    finish(run)
    page.wait_for_function("() => window.vioTimeline.stopped === true", timeout=15_000)
    assert page.get_attribute("#timeline-body", "data-live") == "false"
    assert chart.locator('rect.seg-running.o-succeeded[data-step="configure"]').count() == 1
    assert chart.locator("line.now").count() == 0 and "took" in page.inner_text("#timeline-summary")
    assert page.evaluate("window.__sameDocument") == "still here"
    refreshes = page.evaluate("window.vioTimeline.refreshes")
    page.wait_for_timeout(4000)
    assert page.evaluate("window.vioTimeline.refreshes") == refreshes
    # Nothing of the timeline is refused; the one report is the teardown form's inline onsubmit
    # confirm(), which the page had before (and which such a policy turns off).
    assert [text for text in violations if "inline event handler" not in text] == []

    # A phone: the page keeps to the screen, the chart scrolls sideways inside its card.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert overflow(page) <= 0
    scroller = page.locator("#timeline .timeline-scroll")
    assert scroller.evaluate("s => s.scrollWidth > s.clientWidth")
    card = page.locator("#timeline").bounding_box()
    assert card["x"] >= 0 and card["x"] + card["width"] <= 390
    page.locator("#timeline").screenshot(path=SCREENSHOT.replace(".png", "-390.png"))
