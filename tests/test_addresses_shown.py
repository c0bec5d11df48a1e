"""What will be built is shown from one source: a second deployment's review, plan preview, API plan
and deployment page all show the addresses it holds or will hold, after the first deployment's, never
a recomputation that ignores other deployments (administrators prepare DNS and firewalls from these)."""

import json

import pytest

from deployments.models import IpAllocation
from deployments.services import launch
from testkit.spec import valid_spec

pytestmark = pytest.mark.django_db
ACK = {"hostname_other_address@load_balancer.public_hostname"}


def _second(vcsim):
    return dict(valid_spec(vcsim), name="cloud2", load_balancer={"public_vip": "192.0.2.6", "public_hostname": "localhost"})


def test_a_second_deployment_is_shown_the_addresses_it_will_hold_and_then_holds(admin_client, vcsim, synced_vcenter):
    first = launch.create_deployment(valid_spec(vcsim), acknowledged=ACK)
    held_by_first = set(IpAllocation.objects.filter(deployment=first).values_list("address", flat=True))

    plan = admin_client.post("/api/v1/deployments/plan/", json.dumps({"spec": _second(vcsim)}),
                             content_type="application/json").json()
    shown = {vm["management_ip"] for vm in plan["vms"]} | {plan["internal_vip"]}
    assert not shown & held_by_first, "the review shows addresses another deployment holds"

    second = launch.create_deployment(_second(vcsim), acknowledged=ACK)
    held = dict(IpAllocation.objects.filter(deployment=second).values_list("purpose", "address"))
    assert {vm["name"]: vm["management_ip"] for vm in plan["vms"]} == {vm["name"]: held[vm["name"]] for vm in plan["vms"]}
    assert plan["internal_vip"] == held["internal-vip"]  # what was shown is what it got

    page = admin_client.get(f"/deployments/{second.pk}/").content.decode()
    rows = page[page.index('id="plan"'):page.index("</table>", page.index('id="plan"'))]
    for vm in plan["vms"]:
        assert f"<td>{vm['name']}</td>" in rows and f"<td>{held[vm['name']]}</td>" in rows
    assert f'<dt>Internal VIP</dt><dd id="plan-internal-vip">{held["internal-vip"]}</dd>' in page
