"""The vCenter API: registration with certificate review, write-only passwords, sync through a
real worker, the inventory lists, and clear errors for bad input."""

import time

import pytest

from inventory import models as m

from testkit.servers import UNRESOLVABLE_HOST

pytestmark = pytest.mark.django_db


def create(client, vcsim, **overrides):
    body = {"name": "vc-api", "host": vcsim.host, "port": vcsim.port, "username": vcsim.username, "password": vcsim.password}
    body.update(overrides)
    return client.post("/api/v1/vcenters/", body, content_type="application/json")


def test_create_review_and_accept(admin_client, vcsim):
    response = create(admin_client, vcsim)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "certificate_pending" and body["pinned_certificate_sha256"] == ""
    assert body["presented_certificate"]["sha256"] == vcsim.fingerprint
    assert "password" not in body and vcsim.password not in response.content.decode()

    url = f"/api/v1/vcenters/{body['id']}/accept-certificate/"
    wrong = admin_client.post(url, {"fingerprint": "AB" * 32}, content_type="application/json")
    assert wrong.status_code == 409 and wrong.json()["code"] == "certificate_not_reviewed"
    assert wrong.json()["presented_certificate"]["sha256"] == vcsim.fingerprint

    accepted = admin_client.post(url, {"fingerprint": vcsim.fingerprint}, content_type="application/json")
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "connected" and accepted.json()["pinned_certificate_sha256"] == vcsim.fingerprint
    assert accepted.json()["sync_state"] == "queued"


@pytest.mark.parametrize("overrides,field,code", [
    ({"password": ""}, "password", "blank"),
    ({"port": 70000}, "port", "max_value"),
    ({"host": UNRESOLVABLE_HOST}, "host", "dns_failure"),
    ({"host": "127.0.0.1", "port": 9}, "host", "host_unreachable"),
])
def test_bad_input_is_a_400_naming_the_field(admin_client, vcsim, overrides, field, code):
    response = create(admin_client, vcsim, **overrides)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and body["errors"][0]["field"] == field and body["errors"][0]["code"] == code
    assert body["message"].startswith(f"{field}: ")


def test_missing_password_and_duplicate_name(admin_client, vcsim):
    body = {"name": "vc-api", "host": vcsim.host, "port": vcsim.port, "username": "u"}
    missing = admin_client.post("/api/v1/vcenters/", body, content_type="application/json")
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "password"
    assert create(admin_client, vcsim).status_code == 201
    duplicate = create(admin_client, vcsim)
    assert duplicate.status_code == 400 and {e["field"] for e in duplicate.json()["errors"]} >= {"name"}


def test_update_without_password_keeps_it(admin_client, vcsim):
    created = create(admin_client, vcsim).json()
    admin_client.post(f"/api/v1/vcenters/{created['id']}/accept-certificate/", {"fingerprint": vcsim.fingerprint},
                      content_type="application/json")
    patched = admin_client.patch(f"/api/v1/vcenters/{created['id']}/", {"name": "renamed"}, content_type="application/json")
    assert patched.status_code == 200 and patched.json()["name"] == "renamed" and "password" not in patched.json()
    tested = admin_client.post(f"/api/v1/vcenters/{created['id']}/test-connection/")
    assert tested.json()["status"] == "connected"
    assert m.VCenter.objects.get(pk=created["id"]).password.reveal() == vcsim.password


def test_sync_before_acceptance_is_a_conflict(admin_client, vcsim):
    created = create(admin_client, vcsim).json()
    response = admin_client.post(f"/api/v1/vcenters/{created['id']}/sync/")
    assert response.status_code == 409 and response.json()["code"] == "certificate_pending"


def test_unknown_inventory_kind_and_vcenter_are_404(admin_client):
    assert admin_client.get("/api/v1/vcenters/999/inventory/clusters/").status_code == 404
    assert admin_client.get("/api/v1/vcenters/999/inventory/bogus/").json()["code"] == "not_found"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_sync_through_a_real_worker_then_browse_the_inventory(admin_client, vcsim, celery_worker):
    created = create(admin_client, vcsim, name="vc-worker").json()
    vcenter_url = f"/api/v1/vcenters/{created['id']}/"
    admin_client.post(vcenter_url + "accept-certificate/", {"fingerprint": vcsim.fingerprint}, content_type="application/json")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not admin_client.get(vcenter_url).json()["last_synced_at"]:
        time.sleep(0.1)
    detail = admin_client.get(vcenter_url).json()
    assert detail["last_synced_at"] and detail["sync_state"] == "idle" and not detail["is_stale"]

    accepted = admin_client.post(vcenter_url + "sync/")
    assert accepted.status_code == 202 and accepted.json()["sync_state"] == "queued"
    again = admin_client.post(vcenter_url + "sync/")
    assert again.status_code in (202, 409)  # 409 while the first is still queued or running
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and admin_client.get(vcenter_url).json()["sync_state"] != "idle":
        time.sleep(0.1)
    records = admin_client.get(vcenter_url + "sync-records/").json()
    assert len(records) >= 2 and all(r["ok"] for r in records) and all(r["round_trips"] <= 12 for r in records)

    inventory = admin_client.get(vcenter_url.replace("/vcenters/", "/vcenters/") + "inventory/").json()
    assert inventory["clusters"]["count"] == 4 and inventory["hosts"]["count"] == 11
    clusters = admin_client.get(inventory["clusters"]["url"]).json()["results"]
    management = next(c for c in clusters if c["name"] == "Management")
    assert management["cpu_cores"] == 72 and management["ha_enabled"]
    usable = admin_client.get(inventory["datastores"]["url"], {"cluster": management["moid"]}).json()["results"]
    assert [d["name"] for d in usable] == ["vio-shared-nfs"]
    trunks = admin_client.get(inventory["networks"]["url"], {"kind": "distributed", "name": "trunk"}).json()["results"]
    assert [(n["name"], n["vlan_trunk"]) for n in trunks] == [("VIO-Data-Trunk", [[0, 4094]])]


def test_delete_removes_the_inventory(admin_client, vcsim):
    from inventory.services import sync

    created = create(admin_client, vcsim, name="vc-del").json()
    admin_client.post(f"/api/v1/vcenters/{created['id']}/accept-certificate/", {"fingerprint": vcsim.fingerprint},
                      content_type="application/json")
    m.VCenter.objects.filter(pk=created["id"]).update(sync_state="idle")
    assert sync.sync_vcenter(created["id"]).ok and m.Host.objects.filter(vcenter_id=created["id"]).count() == 11
    assert admin_client.delete(f"/api/v1/vcenters/{created['id']}/").status_code == 204
    assert not m.Host.objects.filter(vcenter_id=created["id"]).exists()


# --- VMs: paged and filtered; the picture's liveness -------------------------------------------

@pytest.fixture
def vms_vcenter(vcsim_factory):
    from testkit.spec import registered_vcenter

    handle = vcsim_factory("-vms", "30")
    return registered_vcenter(handle)


def test_vms_are_paged_and_filtered(admin_client, vms_vcenter):
    url = f"/api/v1/vcenters/{vms_vcenter.pk}/inventory/vms/"
    everything = admin_client.get(url, {"limit": 500}).json()
    assert everything["count"] == 31 and len(everything["results"]) == 31  # 30 VMs and the template
    names = [vm["name"] for vm in everything["results"]]
    assert names == sorted(names)

    first = admin_client.get(url, {"limit": 10}).json()
    second = admin_client.get(first["next"]).json()
    assert [vm["moid"] for vm in first["results"] + second["results"]] == [vm["moid"] for vm in everything["results"][:20]]
    # Never more than a page of 500, whatever is asked; a default page of 100.
    assert admin_client.get(url, {"limit": 100000}).json()["results"].__len__() == 31
    from inventory.api.views import VmPagination
    assert VmPagination.max_limit == 500 and VmPagination.default_limit == 100

    templates = admin_client.get(url, {"template": "true"}).json()["results"]
    assert [vm["name"] for vm in templates] == ["ubuntu-16.04-vio-template"] and templates[0]["template"]
    assert admin_client.get(url, {"template": "false"}).json()["count"] == 30
    on = admin_client.get(url, {"power_state": "poweredOn", "template": "false"}).json()
    assert on["count"] == sum(1 for vm in everything["results"] if vm["power_state"] == "poweredOn" and not vm["template"]) > 0
    sample = everything["results"][5]
    by_host = admin_client.get(url, {"host": sample["host"]}).json()["results"]
    assert by_host and all(vm["host"] == sample["host"] for vm in by_host) and sample["moid"] in {vm["moid"] for vm in by_host}
    by_cluster = admin_client.get(url, {"cluster": sample["cluster"]}).json()["results"]
    assert all(vm["cluster"] == sample["cluster"] for vm in by_cluster) and len(by_cluster) >= len(by_host)
    assert admin_client.get(url, {"name": sample["name"].upper()}).json()["results"][0]["moid"] == sample["moid"]
    m.VirtualMachine.objects.filter(moid=sample["moid"]).update(deployment_id="42", role="controller")
    tagged = admin_client.get(url, {"deployment": "42"}).json()["results"]
    assert [(vm["moid"], vm["role"]) for vm in tagged] == [(sample["moid"], "controller")]
    assert admin_client.get(url, {"power_state": "sleeping"}).status_code == 400

    summary = admin_client.get(f"/api/v1/vcenters/{vms_vcenter.pk}/inventory/").json()
    assert summary["vms"]["count"] == 31 and summary["vms"]["url"].endswith(url)
    assert summary["is_live"] is False and summary["live"].endswith("/inventory/live/")


def test_the_api_says_whether_the_picture_is_live(admin_client, vms_vcenter, settings):
    from django.utils import timezone

    from inventory.services import lease

    vcenter_url = f"/api/v1/vcenters/{vms_vcenter.pk}/"
    detail = admin_client.get(vcenter_url).json()
    assert detail["live"]["is_live"] is False and detail["live"]["state"] == "idle" and detail["live"]["confirmed_at"] is None
    assert detail["extension"]["state"] in ("registered", "failed")  # tried when the certificate was accepted

    token = lease.acquire(vms_vcenter.pk, "a-watcher")
    now = timezone.now()
    lease.update(vms_vcenter.pk, "a-watcher", token, state="live", live_since=now, confirmed_at=now)
    live = admin_client.get(vcenter_url + "inventory/live/").json()
    assert live["is_live"] is True and live["live_since"] and live["confirmed_at"] and live["generation"] >= 1
    assert admin_client.get(vcenter_url).json()["is_stale"] is False

    # vCenter's last answer too old: not live, whatever the lease says.
    old = now - timezone.timedelta(seconds=settings.VIO_INVENTORY_LIVE_SECONDS + 1)
    m.InventoryWatch.objects.filter(pk=vms_vcenter.pk).update(confirmed_at=old)
    live = admin_client.get(vcenter_url + "inventory/live/").json()
    assert live["is_live"] is False and live["live_since"] is None and live["confirmed_at"]
