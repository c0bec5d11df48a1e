"""Deployments and templates through the API: validate-only, plan preview, create (202), the same
errors as the wizard with JSON paths, templates without secrets, upgrade of old templates."""

import copy
import json

import pytest

from deployments.models import Deployment, DeploymentTemplate
from testkit.spec import valid_spec

pytestmark = pytest.mark.django_db


def post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def test_validate_plan_and_create(admin_client, vcsim, synced_vcenter):
    spec = valid_spec(vcsim)
    checked = post(admin_client, "/api/v1/deployments/validate/", {"spec": spec}).json()
    assert checked["valid"] is True
    (warning,) = checked["issues"]
    assert warning["severity"] == "advisory" and warning["field"] == "spec.load_balancer.public_hostname"

    plan = post(admin_client, "/api/v1/deployments/plan/", {"spec": spec}).json()
    assert plan["totals"] == {"vcpu": 56, "memory_gb": 192, "disk_gb": 605}
    assert len(plan["vms"]) == 13 and plan["management_cluster_free"]["cpu_cores"] == 72

    unacknowledged = post(admin_client, "/api/v1/deployments/", {"spec": spec})
    assert unacknowledged.status_code == 400 and unacknowledged.json()["code"] == "acknowledgement_required"
    created = post(admin_client, "/api/v1/deployments/", {"spec": spec, "acknowledge": [warning["key"]]})
    assert created.status_code == 202, created.json()
    body = created.json()
    assert created["Location"] == body["url"] and body["status"] == "queued"
    assert "admin_password" not in json.dumps(body) and "Secret-Admin-1" not in json.dumps(body)
    deployment = Deployment.objects.get(pk=body["id"])
    assert json.loads(deployment.secrets.reveal()) == {"keystone.admin_password": "Secret-Admin-1"}
    assert admin_client.get(body["url"]).json()["spec"]["management_network"]["portgroup"] == "VIO-Management"


def test_errors_carry_json_paths(admin_client, vcsim, synced_vcenter):
    spec = valid_spec(vcsim)
    spec["management_network"]["gateway"] = "10.20.0.25"
    spec["neutron"]["dvs"]["trunk_portgroup"] = "VIO-Management"
    response = post(admin_client, "/api/v1/deployments/", {"spec": spec})
    assert response.status_code == 400
    fields = {(e["field"], e["code"]) for e in response.json()["errors"]}
    assert ("spec.management_network.gateway", "gateway_in_range") in fields
    assert ("spec.neutron.dvs.trunk_portgroup", "not_a_trunk") in fields
    assert not Deployment.objects.exists()
    garbage = post(admin_client, "/api/v1/deployments/validate/", {"spec": {"name": 5}}).json()
    assert garbage["valid"] is False and any(i["field"] == "spec.vcenter" for i in garbage["issues"])


def test_templates_round_trip_without_secrets(admin_client, vcsim, synced_vcenter):
    spec = valid_spec(vcsim)
    checked = post(admin_client, "/api/v1/deployments/validate/", {"spec": spec}).json()
    created = post(admin_client, "/api/v1/deployments/", {"spec": spec, "acknowledge": [i["key"] for i in checked["issues"]]}).json()
    saved = post(admin_client, f"/api/v1/deployments/{created['id']}/save-as-template/", {"name": "lab"})
    assert saved.status_code == 201
    download = admin_client.get(saved.json()["download"])
    assert download["Content-Disposition"].startswith("attachment")
    document = json.loads(download.content)
    assert document["schema_version"] == 1 and "admin_password" not in json.dumps(document)

    document["name"] = "lab-copy"
    imported = post(admin_client, "/api/v1/templates/", {"template": document})
    assert imported.status_code == 201 and imported.json()["spec"] == document["spec"]

    redeploy = copy.deepcopy(document["spec"])
    redeploy["name"] = "cloud2"
    redeploy["keystone"]["admin_password"] = "Another-Secret-2"
    redeploy["management_network"]["ip_ranges"] = [{"start": "10.20.0.100", "end": "10.20.0.130"}]
    taken = post(admin_client, "/api/v1/deployments/validate/", {"spec": redeploy}).json()
    assert ("spec.load_balancer.public_vip", "vip_in_use") in {(i["field"], i["code"]) for i in taken["issues"]}
    redeploy["load_balancer"]["public_vip"] = "192.0.2.6"  # cloud1 holds .5
    again = post(admin_client, "/api/v1/deployments/", {"spec": redeploy, "acknowledge": [i["key"] for i in checked["issues"]]})
    assert again.status_code == 202, again.json()


@pytest.mark.parametrize("mutate,field,code", [
    (lambda d: d["spec"].__setitem__("colour", "blue"), "template.spec.colour", "extra_forbidden"),
    (lambda d: d["spec"]["keystone"].__setitem__("admin_password", "x" * 12), "template.spec.keystone.admin_password", "secret_in_template"),
    (lambda d: d["spec"]["management_network"].__setitem__("gateway", "10.20.0.15"), "template.spec.management_network.gateway", "gateway_in_range"),
    (lambda d: d.__setitem__("schema_version", 7), "template.schema_version", "unknown_schema_version"),
])
def test_invalid_template_imports_are_refused_naming_the_field(admin_client, vcsim, mutate, field, code):
    from deployments.services.templates import export_document

    document = export_document(valid_spec(vcsim), "t")
    mutate(document)
    response = post(admin_client, "/api/v1/templates/", {"template": document})
    assert response.status_code == 400
    assert (field, code) in {(e["field"], e["code"]) for e in response.json()["errors"]}
    assert not DeploymentTemplate.objects.exists()


def test_a_version_0_template_is_upgraded(admin_client, vcsim):
    spec = valid_spec(vcsim)
    old = {key: value for key, value in spec.items() if key not in ("compute_clusters", "schema_version")}
    old["compute_cluster"], old["compute_datastores"] = "Compute-A", ["vio-compute-nfs"]
    old["keystone"] = {k: v for k, v in spec["keystone"].items() if k != "admin_password"}
    for network in ("management_network", "external_network"):
        ranges = old[network].pop("ip_ranges")
        old[network] = dict(old[network], ip_range=",".join(f"{r['start']}-{r['end']}" for r in ranges))
    response = post(admin_client, "/api/v1/templates/", {"name": "from-v0", "template": {"schema_version": 0, "spec": old}})
    assert response.status_code == 201, response.json()
    upgraded = response.json()["spec"]
    assert upgraded["schema_version"] == 1 and upgraded["compute_clusters"] == [{"cluster": "Compute-A", "datastores": ["vio-compute-nfs"]}]
    assert upgraded["management_network"]["ip_ranges"] == [{"start": "10.20.0.10", "end": "10.20.0.40"}]


def test_a_duplicate_deployment_name_is_an_issue_on_the_name(admin_client, vcsim, synced_vcenter):
    spec = valid_spec(vcsim)
    keys = [i["key"] for i in post(admin_client, "/api/v1/deployments/validate/", {"spec": spec}).json()["issues"]]
    assert post(admin_client, "/api/v1/deployments/", {"spec": spec, "acknowledge": keys}).status_code == 202
    again = post(admin_client, "/api/v1/deployments/", {"spec": spec, "acknowledge": keys})
    assert again.status_code == 400 and ("spec.name", "duplicate_name") in {(e["field"], e["code"]) for e in again.json()["errors"]}


def test_abandoned_wizard_passwords_are_forgotten(django_user_model):
    from datetime import timedelta

    from django.utils import timezone

    from deployments.models import WizardSecret
    from deployments.services.wizard_secrets import forget_abandoned

    user = django_user_model.objects.create_user("w", password="long-password-123")
    old = WizardSecret.objects.create(owner=user, value="typed-long-ago")
    WizardSecret.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    fresh = WizardSecret.objects.create(owner=user, value="typed-now")
    assert forget_abandoned() == 1
    assert list(WizardSecret.objects.values_list("pk", flat=True)) == [fresh.pk]
