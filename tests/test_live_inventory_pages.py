"""The inventory pages at scale and live: the VMs page is one page of VMs at a time, filtered; the
pages say whether the picture is live; in Chromium, under the Content-Security-Policy (no inline
script), a VM powered off in vCenter changes on the page a person watches, without a reload."""

import re

import pytest
from pyVmomi import vim

from inventory import models as m
from inventory.clients.vsphere import collect, disconnect
from tests.test_live_inventory import eventually, live
from testkit.watch import watching
from testkit.spec import registered_vcenter

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def many(vcsim_factory):
    """A simulator with 250 VMs: more than two pages of the VMs page."""
    handle = vcsim_factory("-vms", "250")
    return handle, registered_vcenter(handle)


def test_the_vms_page_shows_one_page_filtered(admin_client, many, django_assert_max_num_queries):
    _, vcenter = many
    with django_assert_max_num_queries(14):
        response = admin_client.get(f"/vcenters/{vcenter.pk}/inventory/vms/")
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('<tr data-moid="') == 100 and "Page 1 of 3 (251 VMs)" in page
    assert "not live" in page and 'id="liveness"' in page
    # Every script is a file: nothing inline for the Content-Security-Policy to refuse.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page) and re.search(r"js/inventory_live[.\w]*\.js", page)
    third = admin_client.get(f"/vcenters/{vcenter.pk}/inventory/vms/", {"page": 3}).content.decode()
    assert third.count('<tr data-moid="') == 51

    vm = m.VirtualMachine.objects.filter(vcenter=vcenter, template=False).order_by("moid").last()
    found = admin_client.get(f"/vcenters/{vcenter.pk}/inventory/vms/", {"name": vm.name, "cluster": vm.cluster_moid}).content.decode()
    assert found.count('<tr data-moid="') == 1 and f'data-moid="{vm.moid}"' in found
    off = admin_client.get(f"/vcenters/{vcenter.pk}/inventory/vms/", {"power_state": "poweredOff"}).content.decode()
    assert f"({m.VirtualMachine.objects.filter(vcenter=vcenter, power_state='poweredOff').count()} VM" in off
    bad = admin_client.get(f"/vcenters/{vcenter.pk}/inventory/vms/", {"power_state": "sleeping"})
    assert bad.status_code == 200 and "power_state" in bad.content.decode()  # said, not a crash

    detail = admin_client.get(f"/vcenters/{vcenter.pk}/").content.decode()
    assert "Live inventory" in detail and "Registered in vCenter" in detail


def test_a_watched_page_follows_vcenter_without_a_reload(signed_in, live_server, vcsim_factory, settings):
    settings.VIO_WATCH_LEASE_SECONDS, settings.VIO_WATCH_RENEW_SECONDS = 4, 1
    settings.VIO_WATCH_POLL_SECONDS, settings.VIO_INVENTORY_LIVE_SECONDS = 1, 5
    handle = vcsim_factory("-vms", "6")
    vcenter = registered_vcenter(handle)
    page = signed_in
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    with watching(vcenter.pk):
        live(vcenter)
        si = handle.connect()
        try:
            row = next(r for r in collect(si, vim.VirtualMachine, ["name", "runtime.powerState"])
                       if r["runtime.powerState"] == "poweredOn")
            page.goto(f"{live_server.url}/vcenters/{vcenter.pk}/inventory/vms/?name={row['name']}")
            page.wait_for_function("() => window.vioInventoryLive && window.vioInventoryLive.polls > 0", timeout=10000)
            assert page.inner_text("#live-badge") == "live"
            cell = f'tr[data-moid="{row["_obj"]._moId}"] td:nth-child(2)'
            assert page.inner_text(cell).strip() == "on"
            page.evaluate("window.notReloaded = true")
            row["_obj"].PowerOffVM_Task()
            page.wait_for_function("(s) => document.querySelector(s).innerText.trim() === 'off'", arg=cell, timeout=10000)
            assert page.evaluate("window.notReloaded") is True  # swapped in, not reloaded
        finally:
            disconnect(si)
    eventually(lambda: page.inner_text("#live-badge") == "not live", 15, "the page saying the picture is not live")
    assert not [e for e in errors if "Content Security Policy" in e], errors
