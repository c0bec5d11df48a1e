"""NSX Manager connections: registration with certificate review, sync into the database, checks
the wizard relies on (version, transport zone span, prepared clusters), through the API too."""

import pytest
from pyVmomi import vim

from inventory import models as m
from inventory.choices import ConnectionStatus
from inventory.clients.vsphere import collect
from inventory.services import endpoints, sync
from inventory.services.nsx_checks import meets_minimum_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def vcenter(vcsim):
    vc = endpoints.register(m.VCenter, name="vc", host=vcsim.host, port=vcsim.port, username=vcsim.username,
                            password=vcsim.password)
    vc = endpoints.accept_certificate(vc, vcsim.fingerprint)
    assert sync.sync_vcenter(vc.pk).ok
    return vc


def register_nsx(handle, vcenter, **overrides):
    fields = dict(name="nsx", host=handle.host, port=handle.port, username=handle.username, password=handle.password,
                  vcenter=vcenter)
    fields.update(overrides)
    manager = endpoints.register(m.NsxManager, **fields)
    return endpoints.accept_certificate(manager, manager.presented_certificate["sha256"])


def test_register_accept_and_sync(nsxv, vcenter, vcenter_si):
    manager = register_nsx(nsxv, vcenter)
    assert manager.status == ConnectionStatus.CONNECTED and manager.certificate_sha256 == nsxv.fingerprint
    assert meets_minimum_version(manager.version)
    record = sync.sync_nsx_manager(manager.pk)
    assert record.ok, record.error
    assert 8 <= record.round_trips <= 20  # version, zones, one edge page, controllers, VDS, 4 clusters, registration
    manager.refresh_from_db()

    clusters = {r["name"]: r["_obj"]._moId for r in collect(vcenter_si, vim.ClusterComputeResource, ["name"])}
    (zone,) = m.NsxTransportZone.objects.filter(manager=manager)
    assert set(zone.cluster_moids) == {clusters["Compute-A"], clusters["Compute-B"], clusters["Edge"]}
    assert m.NsxEdge.objects.filter(manager=manager).count() == 7  # every page
    assert m.NsxController.objects.filter(manager=manager, status__iexact="RUNNING").count() == 3
    switch = collect(vcenter_si, vim.DistributedVirtualSwitch, ["name"])[0]
    assert [c["switch_moid"] for c in manager.vds_contexts] == [switch["_obj"]._moId]
    assert manager.fabric[clusters["Edge"]]["hostPrep"]["status"] == "GREEN"
    assert not manager.fabric[clusters["Management"]]["vxlan"]["installed"]
    assert manager.registration["thumbprint"].replace(":", "").upper() == vcenter.certificate_sha256.replace(":", "")


def test_an_old_nsx_is_flagged(nsxv_factory, vcenter):
    old = nsxv_factory("--version", "6.1.0")
    manager = register_nsx(old, vcenter, name="old-nsx")
    assert manager.version == "6.1.0" and not meets_minimum_version(manager.version)


def test_nsx_pointed_at_vcenter_and_vcenter_pointed_at_nsx(nsxv, vcsim, vcenter):
    wrong = register_nsx(vcsim, vcenter, name="not-nsx", username="admin", password="x")
    assert wrong.status == ConnectionStatus.ERROR and wrong.status_code == "not_an_nsx_manager"
    not_vc = endpoints.register(m.VCenter, name="not-vc", host=nsxv.host, port=nsxv.port, username="u", password="p")
    not_vc = endpoints.accept_certificate(not_vc, nsxv.fingerprint)
    assert not_vc.status == ConnectionStatus.ERROR and not_vc.status_code == "not_a_vcenter"


def test_wrong_nsx_password(nsxv, vcenter):
    manager = register_nsx(nsxv, vcenter, password="wrong-password")
    assert manager.status_code == "invalid_credentials" and "wrong-password" not in manager.status_message
    assert "wrong user name or password" in manager.status_message and nsxv.username in manager.status_message


def test_an_nsx_error_fails_the_sync_and_keeps_the_old_picture(nsxv_faults, vcenter):
    manager = register_nsx(nsxv_faults, vcenter)
    assert sync.sync_nsx_manager(manager.pk).ok
    nsxv_faults.inject(path="/api/4.0/edges", status=500, error_code=10003, message="edge service unavailable", count=1)
    record = sync.sync_nsx_manager(manager.pk)
    assert not record.ok and "edge service unavailable" in record.error
    assert m.NsxEdge.objects.filter(manager=manager).count() == 7


def test_nsx_api(admin_client, nsxv, vcenter):
    created = admin_client.post("/api/v1/nsx-managers/", {
        "name": "nsx-api", "vcenter": vcenter.pk, "host": nsxv.host, "port": nsxv.port,
        "username": nsxv.username, "password": nsxv.password}, content_type="application/json")
    assert created.status_code == 201 and created.json()["presented_certificate"]["sha256"] == nsxv.fingerprint
    assert "password" not in created.json()
    pk = created.json()["id"]
    accepted = admin_client.post(f"/api/v1/nsx-managers/{pk}/accept-certificate/", {"fingerprint": nsxv.fingerprint},
                                 content_type="application/json").json()
    assert accepted["status"] == "connected" and accepted["meets_minimum_version"] is True
    m.NsxManager.objects.filter(pk=pk).update(sync_state="idle")
    assert sync.sync_nsx_manager(pk).ok
    zones = admin_client.get(f"/api/v1/nsx-managers/{pk}/transport-zones/").json()["results"]
    assert len(zones) == 1 and len(zones[0]["cluster_moids"]) == 3
    assert len(admin_client.get(f"/api/v1/nsx-managers/{pk}/edges/").json()["results"]) == 7
    page = admin_client.get(f"/nsx-managers/{pk}/").content.decode()
    assert "VIO-TZ" in page and "hostPrep" in page
    # A vCenter used by an NSX Manager cannot be deleted from under it.
    refused = admin_client.delete(f"/api/v1/vcenters/{vcenter.pk}/")
    assert refused.status_code == 409 and refused.json()["code"] == "in_use"
