"""The vCenter pages, as an administrator meets them: over HTTP, and in Chromium with a real worker."""

import re

import pytest

from inventory import models as m
from inventory.services import endpoints, sync

from testkit.servers import UNRESOLVABLE_HOST

pytestmark = pytest.mark.django_db


def test_add_form_puts_a_host_name_dns_refuses_on_the_host_field(admin_client):
    response = admin_client.post("/vcenters/add/", {"name": "vc", "host": UNRESOLVABLE_HOST, "port": 443,
                                                    "username": "administrator@vsphere.local", "password": "x"})
    assert response.status_code == 200
    host_errors = response.context["form"].errors["host"]
    # 255 characters: refused in words before any lookup (nothing is asked of DNS)
    assert "is not a valid host name: it is 255 characters long" in host_errors[0]
    assert not m.VCenter.objects.exists()


def test_edit_form_never_shows_the_password(admin_client, vcsim):
    vcenter = endpoints.register(m.VCenter, name="vc", host=vcsim.host, port=vcsim.port,
                                 username=vcsim.username, password=vcsim.password)
    page = admin_client.get(f"/vcenters/{vcenter.pk}/edit/").content.decode()
    assert vcsim.password not in page and "Leave empty to keep" in page
    response = admin_client.post(f"/vcenters/{vcenter.pk}/edit/", {"name": "vc2", "host": vcsim.host, "port": vcsim.port,
                                                                    "username": vcsim.username, "password": ""})
    assert response.status_code == 302
    assert m.VCenter.objects.get(pk=vcenter.pk).password.reveal() == vcsim.password


def test_inventory_page_shows_the_synced_picture(admin_client, vcsim, django_assert_max_num_queries):
    vcenter = endpoints.register(m.VCenter, name="vc", host=vcsim.host, port=vcsim.port,
                                 username=vcsim.username, password=vcsim.password)
    vcenter = endpoints.accept_certificate(vcenter, vcsim.fingerprint)
    assert sync.sync_vcenter(vcenter.pk).ok
    with django_assert_max_num_queries(20):
        page = admin_client.get(f"/vcenters/{vcenter.pk}/inventory/").content.decode()
    for text in ("Management", "Compute-B", "esx-compa-04.vio.local", "vio-compute-nfs", "VIO-Data-Trunk",
                 "trunk 0-4094", "VLAN 100", "VIO-DSwitch", "ubuntu-16.04-vio-template"):
        assert text in page
    assert 'class="bar"' in page


@pytest.mark.browser
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_add_a_vcenter_in_the_browser(live_server, page, vcsim, celery_worker, django_user_model):
    django_user_model.objects.create_superuser("admin", password="a-long-admin-password")
    page.goto(live_server.url + "/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "a-long-admin-password")
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + "/")

    page.click("text=vCenters")
    page.click("text=Add vCenter")
    page.fill("#id_name", "vcsa-lab")
    page.fill("#id_host", vcsim.host)
    page.fill("#id_port", str(vcsim.port))
    page.fill("#id_username", vcsim.username)
    page.fill("#id_password", vcsim.password)
    page.click("button:has-text('Continue')")

    assert page.inner_text("#cert-sha256") == vcsim.fingerprint  # what the administrator compares
    assert "vcsa.vio.local" in page.inner_text("#cert-subject")
    page.click("#accept-certificate")
    assert "connected" in page.inner_text("#status")
    # The sync is queued: no count of 0 is shown as if it were vCenter's inventory.
    counts = page.inner_text("#inventory-counts")
    assert not re.search(r"\b0\b", counts) and ("first sync" in counts or "Clusters" in counts)

    # The sync runs in the worker; the page reads itself again until it has ended, without a reload.
    page.evaluate("window.__sameDocument = 'still here'")
    page.wait_for_function("() => window.vioEndpoint && window.vioEndpoint.stopped === true", timeout=30_000)
    assert page.evaluate("window.__sameDocument") == "still here"
    assert "never" not in page.inner_text("#last-sync") and page.locator("#sync-note").count() == 0
    assert re.search(r"Clusters\s+4", page.inner_text("#inventory-counts"))
    page.click("text=browse")
    assert page.locator("#clusters tr.cluster").count() == 4
    assert "VIO-Data-Trunk" in page.inner_text("#networks")
    page.screenshot(path="var/test/inventory-page.png", full_page=True)
