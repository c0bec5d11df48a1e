"""The Deploy OpenStack wizard over HTTP (Django's test client) against the simulators' synced
inventory: a full walk to a created deployment, each class of validation error on its field, Back,
secrets kept out of the session, two wizard instances side by side, templates."""

import io
import json
import re

import pytest

from deployments.models import Deployment, DeploymentTemplate, WizardSecret
from deployments.services.secrets import split_secrets
from deployments.services.templates import save_as_template
from deployments.spec import DeploymentSpec
from inventory import models as m
from testkit.spec import registered_nsx, registered_vcenter, valid_spec
from testkit.wizard import Wizard, finish, steps_for, walk

pytestmark = pytest.mark.django_db

ADMIN_PASSWORD = "Secret-Admin-1"


def public_spec(spec: dict) -> dict:
    """What a deployment stores: the spec as the model dumps it, without secrets."""
    dumped = DeploymentSpec.model_validate(spec).model_dump(mode="json", exclude_none=True)
    return split_secrets(dumped)[0]


@pytest.fixture
def vcenter(vcsim):
    return registered_vcenter(vcsim)


# --- the whole walk -----------------------------------------------------------------------------


def test_a_full_dvs_walk_creates_a_queued_deployment(admin_client, vcsim, vcenter):
    spec = valid_spec(vcsim)
    wizard = Wizard(admin_client)
    walk(wizard, spec, vcenter)

    review = wizard.get("review")
    page = review.content.decode()
    assert "cloud1-controller-01" in page and "cloud1-dhcp-02" in page
    assert review.context["plan"]["totals"] == {"vcpu": 56, "memory_gb": 192, "disk_gb": 605}
    assert 'id="plan-free"' in page and "72 cores" in page
    # localhost resolves to 127.0.0.1, not to the VIP: a warning to acknowledge, not a blocker.
    ack = [n for n in review.context["form"].fields if n.startswith("ack_")]
    assert ack and "localhost" in str(review.context["form"].fields[ack[0]].label)
    refused = wizard.post("review", {})
    assert refused.status_code == 200 and "Acknowledge this warning" in refused.content.decode()

    detail = finish(wizard)
    assert detail.status_code == 302
    deployment = Deployment.objects.get()
    assert detail["Location"] == f"/deployments/{deployment.pk}/"
    assert deployment.status == "queued" and deployment.vcenter == vcenter
    assert deployment.spec == public_spec(spec)
    assert "Secret-Admin-1" not in json.dumps(deployment.spec)
    assert json.loads(deployment.secrets.reveal()) == {"keystone.admin_password": ADMIN_PASSWORD}
    assert deployment.acknowledged == ["hostname_other_address@load_balancer.public_hostname"]
    assert not WizardSecret.objects.exists(), "the wizard's secrets are deleted once the deployment holds them"

    page = admin_client.get(detail["Location"]).content.decode()
    assert "run 1)" in page and "cloud1-memcache-02" in page and ADMIN_PASSWORD not in page
    assert deployment.runs.get().steps.filter(key="preflight").exists()  # launched: its first run waits for a worker
    assert "cloud1" in admin_client.get("/deployments/").content.decode()
    # The wizard instance is gone with its storage.
    assert admin_client.get(wizard.url("review"))["Location"] == "/deployments/new/"


def test_an_nsx_walk(admin_client, vcsim, nsxv, vcenter):
    manager = registered_nsx(nsxv, vcenter)
    spec = valid_spec(vcsim, mode="nsx", nsxv=nsxv)
    wizard = Wizard(admin_client)
    walk(wizard, spec, vcenter, nsx_manager=manager, until="nsx")
    nsx_page = wizard.get("nsx").content.decode()
    assert "VIO-TZ (vdnscope-1) — spans Compute-A, Compute-B, Edge" in nsx_page
    assert "Edge — prepared for NSX" in nsx_page and "Management — not prepared for NSX" in nsx_page
    step_names = [item["name"] for item in wizard.get("nsx").context["step_list"]]
    assert "nsx" in step_names and "dvs" not in step_names
    walk_rest(wizard, spec, vcenter, manager, after="nsx")
    assert finish(wizard).status_code == 302
    deployment = Deployment.objects.get()
    assert deployment.spec == public_spec(spec)


def walk_rest(wizard, spec, vcenter, manager, *, after: str) -> None:
    answers = steps_for(spec, vcenter, wizard, manager)
    names = [name for name, _ in answers]
    for step, data in answers[names.index(after):]:
        wizard.next(step, data)


# --- each class of error lands on its field -----------------------------------------------------


def test_management_ranges_outside_the_subnet_and_a_gateway_inside_a_range(admin_client, vcsim, vcenter):
    spec = valid_spec(vcsim)
    wizard = Wizard(admin_client)
    walk(wizard, spec, vcenter, until="management_network")
    base = {"portgroup": "VIO-Management", "netmask": "255.255.255.0", "gateway": "10.20.0.1", "dns_servers": "10.20.0.2"}
    errors = wizard.errors("management_network", {**base, "ip_ranges": "10.20.0.10-10.20.0.40\n10.30.0.10-10.30.0.40"})
    assert list(errors) == ["ip_ranges"]
    assert errors["ip_ranges"].startswith("Line 2: 10.30.0.10-10.30.0.40 is not inside the management subnet 10.20.0.0/24")
    errors = wizard.errors("management_network", {**base, "ip_ranges": "10.20.0.10-10.20.0.40", "gateway": "10.20.0.20"})
    assert list(errors) == ["gateway"] and "inside the range 10.20.0.10-10.20.0.40" in errors["gateway"]
    errors = wizard.errors("management_network", {**base, "ip_ranges": "10.20.0.10-10.20.0.15"})
    assert list(errors) == ["ip_ranges"] and "needs 15 management addresses" in errors["ip_ranges"]
    errors = wizard.errors("management_network", {**base, "ip_ranges": "10.20.0.10-banana", "netmask": "255.0.255.0"})
    assert errors["ip_ranges"].startswith("Line 1:") and "IPv4" in errors["ip_ranges"]


def test_the_error_summary_links_to_the_field_and_the_field_takes_the_focus(admin_client, vcsim, vcenter):
    wizard = Wizard(admin_client)
    walk(wizard, valid_spec(vcsim), vcenter, until="load_balancer")
    response = wizard.post("load_balancer", {"public_vip": "192.0.2.12", "public_hostname": "localhost"})
    page = response.content.decode()
    assert list(response.context["form"].errors) == ["public_vip"]
    assert "inside an external IP range" in response.context["form"].errors["public_vip"][0]
    assert re.search(r'<div class="error-summary"[^>]*role="alert"', page)
    assert '<a href="#id_load_balancer-public_vip">Public virtual IP: The public VIP 192.0.2.12 is inside' in page
    assert re.search(r'<input[^>]*name="load_balancer-public_vip"[^>]*aria-invalid="true"', page)
    assert re.search(r'<input[^>]*name="load_balancer-public_vip"[^>]*autofocus', page)
    assert 'aria-describedby="id_load_balancer-public_vip_helptext id_load_balancer-public_vip_error"' in page


def test_placement_errors(admin_client, vcsim, vcenter):
    spec = valid_spec(vcsim)
    wizard = Wizard(admin_client)
    walk(wizard, spec, vcenter, until="datacenter")
    errors = wizard.errors("datacenter", {"datacenter": "VIO-Datacenter", "topology": "ha", "management_cluster": "Management",
                                          "management_datastores": ["local-esx-mgmt-01.vio.local"]})
    assert list(errors) == ["management_datastores"]
    assert "local-esx-mgmt-01.vio.local is not mounted by every host of Management" in errors["management_datastores"]

    walk(wizard, spec, vcenter, until="compute")
    management, compute_b = wizard.compute_row("Management"), wizard.compute_row("Compute-B")
    errors = wizard.errors("compute", {f"use_{management}": "on", f"datastores_{management}": ["vio-shared-nfs"]})
    assert list(errors) == [f"use_{management}"] and "Management is the management cluster" in errors[f"use_{management}"]
    errors = wizard.errors("compute", {f"use_{compute_b}": "on", f"datastores_{compute_b}": ["local-esx-compa-01.vio.local"]})
    assert "not mounted by every host of Compute-B" in errors[f"datastores_{compute_b}"]
    errors = wizard.errors("compute", {f"use_{compute_b}": "on"})
    assert "choose datastores, or give a regular expression" in errors[f"datastores_{compute_b}"].lower()
    errors = wizard.errors("compute", {})
    assert errors == {"__all__": "Choose at least one compute cluster."}
    assert wizard.next("compute", {f"use_{compute_b}": "on", f"regex_{compute_b}": "^vio-compute-"}) == "glance"


def test_a_port_group_missing_from_management_hosts(admin_client, vcsim, vcenter):
    spec = valid_spec(vcsim)
    wizard = Wizard(admin_client)
    walk(wizard, spec, vcenter, until="external_network")
    # A host of the management cluster lacks the port group: the sync would record it so.
    m.Network.objects.get(name="VIO-External").clusters.remove(m.Cluster.objects.get(name="Management"))
    errors = wizard.errors("external_network", {"portgroup": "VIO-External", "ip_ranges": "192.0.2.10-192.0.2.20",
                                                "netmask": "255.255.255.0", "gateway": "192.0.2.1"})
    assert list(errors) == ["portgroup"]
    assert "VIO-External is not on every host of the management cluster Management" in errors["portgroup"]


def test_a_dvs_port_group_that_is_not_a_trunk(admin_client, vcsim, vcenter):
    wizard = Wizard(admin_client)
    walk(wizard, valid_spec(vcsim), vcenter, until="dvs")
    page = wizard.get("dvs").content.decode()
    assert "VIO-Data-Trunk — trunk 0-4094, on VIO-DSwitch" in page and "VIO-Management — VLAN 100" in page
    errors = wizard.errors("dvs", {"switch": "VIO-DSwitch", "trunk_portgroup": "VIO-Management"})
    assert list(errors) == ["trunk_portgroup"]
    assert "VIO-Management carries VLAN 100; the data network needs a trunk" in errors["trunk_portgroup"]


def test_nsx_errors_land_on_their_fields(admin_client, vcsim, nsxv, nsxv_factory, vcenter):
    manager = registered_nsx(nsxv, vcenter)
    old = registered_nsx(nsxv_factory("--version", "6.1.0"), vcenter, name="nsx-old")
    spec = valid_spec(vcsim, mode="nsx", nsxv=nsxv)
    wizard = Wizard(admin_client)
    walk(wizard, spec, vcenter, nsx_manager=manager, until="nsx")
    answers = dict(spec["neutron"]["nsx"])
    errors = wizard.errors("nsx", {**answers, "manager": old.pk})
    assert list(errors) == ["manager"] and "runs NSX 6.1.0; VIO needs NSX for vSphere 6.1.2 or later" in errors["manager"]

    zone = m.NsxTransportZone.objects.get(manager=manager, object_id="vdnscope-1")
    zone.cluster_moids = [moid for moid in zone.cluster_moids if moid != m.Cluster.objects.get(name="Compute-A").moid]
    zone.save()
    errors = wizard.errors("nsx", {**answers, "manager": manager.pk})
    assert list(errors) == ["transport_zone"] and "does not span Compute-A" in errors["transport_zone"]
    errors = wizard.errors("nsx", {**answers, "manager": manager.pk, "edge_cluster": "Management"})
    assert "Management is not prepared for NSX (hostPrep, vxlan not green)" in errors["edge_cluster"]


def test_ldap_backend_without_url(admin_client, vcsim, vcenter):
    wizard = Wizard(admin_client)
    walk(wizard, valid_spec(vcsim), vcenter, until="keystone")
    ldap = {"admin_user": "admin", "admin_password": ADMIN_PASSWORD, "admin_project": "admin", "backend": "ldap",
            "ldap_bind_user": "CN=os,DC=example,DC=com", "ldap_bind_password": "bind-secret-1",
            "ldap_user_tree_dn": "CN=Users,DC=example,DC=com"}
    errors = wizard.errors("keystone", ldap)
    assert errors == {"ldap_url": "LDAP URL is required"}
    errors = wizard.errors("keystone", {**ldap, "ldap_url": "http://dc.example.com"})
    assert errors == {"ldap_url": "Enter the directory's URL: ldap://host:389 or ldaps://host:636."}
    errors = wizard.errors("keystone", {**ldap, "admin_password": "short", "ldap_url": "ldaps://127.0.0.1:636"})
    assert errors == {"admin_password": "Admin password must be at least 8 characters"}
    assert wizard.next("keystone", {**ldap, "ldap_url": "ldaps://127.0.0.1:636"}) == "syslog"
    assert WizardSecret.objects.count() == 2


# --- Back, secrets, instances -------------------------------------------------------------------


def test_back_keeps_what_was_typed(admin_client, vcsim, vcenter):
    wizard = Wizard(admin_client)
    walk(wizard, valid_spec(vcsim), vcenter, until="external_network")
    typed = {"portgroup": "VIO-External", "ip_ranges": "192.0.2.30-192.0.2.40", "netmask": "255.255.255.0", "gateway": ""}
    response = wizard.post("external_network", typed, raw={"wizard_goto_step": "management_network"})
    assert response["Location"] == wizard.url("management_network")
    form = wizard.get("management_network").context["form"]
    assert form["ip_ranges"].value() == "10.20.0.10-10.20.0.40" and form["portgroup"].value() == "VIO-Management"
    form = wizard.get("external_network").context["form"]  # what was typed, with its error (no gateway)
    assert form["ip_ranges"].value() == "192.0.2.30-192.0.2.40" and "gateway" in form.errors


def test_no_password_is_kept_in_the_session(admin_client, vcsim, vcenter):
    wizard = Wizard(admin_client)
    walk(wizard, valid_spec(vcsim), vcenter, until="syslog")
    session = json.dumps(dict(admin_client.session))
    assert ADMIN_PASSWORD not in session and "keystone.admin_password" in session
    secret = WizardSecret.objects.get()
    assert secret.value.reveal() == ADMIN_PASSWORD
    # Coming back: the password field is empty, says it keeps the password, and may stay empty.
    page = wizard.get("keystone").content.decode()
    assert ADMIN_PASSWORD not in page and "Leave empty to keep the password you typed" in page
    assert wizard.next("keystone", {"admin_user": "admin", "admin_password": "", "admin_project": "admin", "backend": "sql"}) == "syslog"
    assert WizardSecret.objects.get().pk == secret.pk


def test_registering_a_vcenter_in_the_wizard(admin_client, vcsim):
    wizard = Wizard(admin_client)
    wizard.next("start", {"name": "cloud1", "source": "new"})
    page = wizard.get("vcenter").content.decode()
    assert "Register a vCenter" in page
    registration = {"newvc-name": "vcsa", "newvc-host": vcsim.host, "newvc-port": vcsim.port,
                    "newvc-username": vcsim.username, "newvc-password": vcsim.password}
    response = wizard.post("vcenter", {}, raw={**registration, "wizard_action": "register"})
    page = response.content.decode()
    assert response.status_code == 200 and vcsim.fingerprint in page and 'id="cert-subject"' in page
    assert "vcsa.vio.local" in page
    vcenter = m.VCenter.objects.get(name="vcsa")
    assert not vcenter.is_pinned
    response = wizard.post("vcenter", {}, raw={"wizard_action": "accept", "fingerprint": vcsim.fingerprint})
    assert response["Location"] == wizard.url("datacenter")
    vcenter.refresh_from_db()
    assert vcenter.certificate_sha256 == vcsim.fingerprint and vcenter.last_synced_at is not None
    assert vcenter.password.reveal() == vcsim.password
    assert vcsim.password not in json.dumps(dict(admin_client.session))
    datacenter = wizard.get("datacenter").content.decode()
    assert "Management — 3 hosts, 72 cores" in datacenter and "vio-shared-nfs — " in datacenter


def test_two_wizard_instances_do_not_share_data(admin_client, vcsim, vcenter):
    first, second = Wizard(admin_client), Wizard(admin_client)
    assert first.id != second.id
    first.next("start", {"name": "alpha", "source": "new"})
    second.next("start", {"name": "beta", "source": "new"})
    first.next("vcenter", {"vcenter": vcenter.pk})
    assert first.get("start").context["form"]["name"].value() == "alpha"
    assert second.get("start").context["form"]["name"].value() == "beta"
    steps = [item for item in second.get("vcenter").context["step_list"] if item["state"] == "done"]
    assert [item["name"] for item in steps] == ["start"]
    assert admin_client.get("/deployments/new/0123456789ab/start/")["Location"] == "/deployments/new/"


def test_starting_from_a_saved_template_prefills_and_asks_the_secrets_again(admin_client, vcsim, vcenter):
    spec = valid_spec(vcsim)
    template = save_as_template(spec, name="lab template")
    wizard = Wizard(admin_client, query=f"?template={template.pk}")
    start = admin_client.get(wizard.entry).context["form"]
    assert start["source"].value() == "saved" and start["template"].value() == str(template.pk)
    wizard.next("start", {"name": "cloud2", "source": "saved", "template": template.pk})

    assert wizard.get("vcenter").context["form"]["vcenter"].value() == str(vcenter.pk)
    datacenter = wizard.get("datacenter").context["form"]
    assert datacenter["management_cluster"].value() == "Management"
    assert datacenter["management_datastores"].value() == ["vio-shared-nfs"]
    assert wizard.get("management_network").context["form"]["ip_ranges"].value() == "10.20.0.10-10.20.0.40"
    compute = wizard.get("compute").context["form"]
    row = wizard.compute_row("Compute-A")
    assert compute[f"use_{row}"].value() is True and compute[f"datastores_{row}"].value() == ["vio-compute-nfs"]
    assert wizard.get("dvs").context["form"]["trunk_portgroup"].value() == "VIO-Data-Trunk"
    keystone = wizard.get("keystone").content.decode()
    assert "Leave empty to keep" not in keystone

    for step in ("vcenter", "datacenter", "management_network", "external_network", "load_balancer", "compute",
                 "glance", "neutron", "dvs"):
        form = wizard.get(step).context["form"]
        data = {name: form[name].value() for name in form.fields}
        wizard.next(step, {k: v for k, v in data.items() if v not in (None, False)})
    assert wizard.errors("keystone", {"admin_user": "admin", "admin_project": "admin", "backend": "sql"}) == {
        "admin_password": "Type the OpenStack admin password."}
    wizard.next("keystone", {"admin_user": "admin", "admin_password": ADMIN_PASSWORD, "admin_project": "admin", "backend": "sql"})
    for step in ("syslog", "appliance"):
        form = wizard.get(step).context["form"]
        wizard.next(step, {name: form[name].value() for name in form.fields})
    assert finish(wizard).status_code == 302
    deployment = Deployment.objects.get(name="cloud2")
    assert deployment.spec == public_spec({**spec, "name": "cloud2"})


def template_file(document: dict, name: str = "template.json"):
    upload = io.BytesIO(json.dumps(document).encode())
    upload.name = name
    return upload


def test_a_template_file_with_an_unknown_field_is_refused_naming_it(admin_client, vcsim):
    public = split_secrets(valid_spec(vcsim))[0]
    document = {"kind": "vio-manager/deployment-template", "schema_version": 1, "spec": {**public, "flavour": "large"}}
    wizard = Wizard(admin_client)
    errors = wizard.errors("start", {"name": "cloud1", "source": "file"},
                           files={"start-template_file": template_file(document)})
    assert errors == {"template_file": "spec.flavour: is not a field of a deployment spec (schema version 1); remove it"}

    response = admin_client.post("/templates/upload/", {"file": template_file(document), "name": "bad"})
    page = response.content.decode()
    assert response.status_code == 200 and "<code>spec.flavour</code>: is not a field of a deployment spec" in page
    assert not DeploymentTemplate.objects.exists()

    document["spec"].pop("flavour")
    assert wizard.next("start", {"name": "cloud1", "source": "file"}, files={"start-template_file": template_file(document)}) == "vcenter"
    assert wizard.get("appliance").context["form"]["url"].value() == public["appliance_ova"]["url"]


# --- deployment and template pages ----------------------------------------------------------------


def test_template_pages(admin_client, vcsim, vcenter):
    spec = valid_spec(vcsim)
    public = split_secrets(spec)[0]
    document = {"kind": "vio-manager/deployment-template", "schema_version": 1, "name": "lab", "spec": public}
    response = admin_client.post("/templates/upload/", {"file": template_file(document), "description": "the lab"})
    template = DeploymentTemplate.objects.get(name="lab")
    assert response["Location"] == f"/templates/{template.pk}/"
    assert "lab" in admin_client.get("/templates/").content.decode()
    detail = admin_client.get(f"/templates/{template.pk}/").content.decode()
    assert f'href="/deployments/new/?template={template.pk}"' in detail
    download = admin_client.get(f"/templates/{template.pk}/download/")
    assert download["Content-Disposition"] == 'attachment; filename="lab.json"'
    exported = json.loads(download.content)
    assert exported["spec"]["management_cluster"] == "Management" and "admin_password" not in exported["spec"]["keystone"]
    again = admin_client.post("/templates/upload/", {"file": template_file(exported)})
    assert "<code>name</code>: A template named &#x27;lab&#x27; exists" in again.content.decode()
    assert admin_client.post(f"/templates/{template.pk}/delete/")["Location"] == "/templates/"
    assert not DeploymentTemplate.objects.exists()


def test_save_a_deployment_as_a_template(admin_client, vcsim, vcenter):
    wizard = Wizard(admin_client)
    walk(wizard, valid_spec(vcsim), vcenter)
    saved = wizard.post("review", {}, raw={"save-name": "from review", "wizard_action": "save_template"})
    assert saved["Location"] == wizard.url("review")
    assert DeploymentTemplate.objects.get(name="from review").spec["name"] == "cloud1"
    duplicate = wizard.post("review", {}, raw={"save-name": "from review", "wizard_action": "save_template"})
    assert "A template named &#x27;from review&#x27; exists" in duplicate.content.decode()
    finish(wizard)
    deployment = Deployment.objects.get()
    response = admin_client.post(f"/deployments/{deployment.pk}/save-template/", {"save-name": "from detail"})
    template = DeploymentTemplate.objects.get(name="from detail")
    assert response["Location"] == f"/templates/{template.pk}/" and template.source_deployment == deployment


# --- finishing re-validates everything ----------------------------------------------------------


def test_what_changed_since_a_step_sends_the_user_back_to_it(admin_client, vcsim, vcenter):
    wizard = Wizard(admin_client)
    walk(wizard, valid_spec(vcsim), vcenter)
    # The port group left a host of the management cluster after its step was done.
    m.Network.objects.get(name="VIO-Management").clusters.remove(m.Cluster.objects.get(name="Management"))
    review = wizard.get("review")
    assert "VIO-Management is not on every host" in review.content.decode()  # listed, with a link to its step
    acks = {name: "on" for name in review.context["form"].fields if name.startswith("ack_")}
    response = wizard.post("review", acks)
    assert response.status_code == 200 and "These problems must be fixed" in response.content.decode()
    done = admin_client.get(wizard.url("done"))
    assert done["Location"] == wizard.url("management_network")
    form = wizard.get("management_network").context["form"]
    assert "is not on every host of the management cluster" in form.errors["portgroup"][0]
    assert not Deployment.objects.exists()


def test_issues_found_when_finishing_land_on_their_step_and_field(admin_client, vcsim, vcenter, monkeypatch):
    from deployments.services.launch import SpecInvalid
    from deployments.spec import Issue
    from deployments.wizard import view

    def refuse(*args, **kwargs):
        raise SpecInvalid([Issue("external_network.gateway", "gateway_taken", "192.0.2.1 answers for another MAC now.")])

    wizard = Wizard(admin_client)
    walk(wizard, valid_spec(vcsim), vcenter)
    monkeypatch.setattr(view, "create_deployment", refuse)
    response = finish(wizard)
    assert response["Location"] == wizard.url("external_network")
    page = wizard.get("external_network")
    assert page.context["form"].errors["gateway"] == ["192.0.2.1 answers for another MAC now."]
    assert '<a href="#id_external_network-gateway">Gateway: 192.0.2.1 answers' in page.content.decode()
    monkeypatch.undo()
    wizard.next("external_network", {"portgroup": "VIO-External", "ip_ranges": "192.0.2.10-192.0.2.20",
                                      "netmask": "255.255.255.0", "gateway": "192.0.2.1"})
    assert finish(wizard)["Location"].startswith("/deployments/")
    assert Deployment.objects.get().name == "cloud1"


# --- steps revisited: nothing lost, checks that span steps reported once, where they are caused --------


def compact_two_clusters(vcsim) -> dict:
    spec = valid_spec(vcsim)
    spec["topology"] = "compact"
    spec["compute_clusters"] = [{"cluster": "Compute-A", "datastores": ["vio-compute-nfs"]},
                                {"cluster": "Compute-B", "datastores": ["vio-compute-nfs"]}]
    return spec


def free_memory(vcenter, cluster: str, gb: int) -> None:
    row = m.Cluster.objects.get(vcenter=vcenter, name=cluster)
    m.Cluster.objects.filter(pk=row.pk).update(memory_used_bytes=row.memory_bytes - gb * 2**30)


def test_memory_a_later_step_uses_is_reported_there_and_revisiting_loses_nothing(admin_client, vcsim, vcenter):
    spec = compact_two_clusters(vcsim)
    wizard = Wizard(admin_client)
    walk(wizard, spec, vcenter)
    free_memory(vcenter, "Management", 42)  # a sync found less free memory: 48 GB needed (control 32 + 2 x 8)
    review = wizard.get("review")
    assert review.context["plan"]["totals"]["memory_gb"] == 48
    (blocking,) = review.context["review_blocking"]
    assert blocking["step"] == "compute" and "48 GB of memory" in blocking["message"]
    assert "compact topology" not in blocking["message"]  # compact is chosen already

    # "Change" on the review's Management cluster section, then Next: step 3 is not refused for step 7's VMs.
    wizard.goto("review", "datacenter", {})
    page = wizard.get("datacenter")
    assert not page.context["form"].errors
    (note,) = page.context["notes"]
    assert note["step"] == "compute" and note["text"].startswith("With the 2 compute clusters chosen on the step Compute")
    data = {"datacenter": "VIO-Datacenter", "topology": "compact", "management_cluster": "Management",
            "management_datastores": ["vio-shared-nfs"]}
    assert wizard.next("datacenter", data) == "management_network"
    # The step list from there, the gateway half typed: the compute step keeps both clusters and says what to do,
    # once; the management network keeps what was typed, marked as a step to fix.
    wizard.goto("management_network", "compute", {**wizard.shown("management_network"), "gateway": "10.20.0."})
    compute = wizard.get("compute")
    form = compute.context["form"]
    a, b = wizard.compute_row("Compute-A"), wizard.compute_row("Compute-B")
    assert form[f"use_{a}"].value() and form[f"use_{b}"].value()
    assert form.errors == {"__all__": [form.non_field_errors()[0]]}
    assert form.non_field_errors()[0].startswith("With the 2 compute clusters chosen here: The plan needs 48 GB")
    (entry,) = compute.context["summary"]
    assert entry["step"] == "datacenter" and entry["title"] == "Management cluster"
    items = {item["name"]: item for item in compute.context["step_list"]}
    assert items["management_network"]["state"] == "problem" and items["management_network"]["reachable"]
    assert items["datacenter"]["state"] == "done" and items["appliance"]["reachable"]
    assert wizard.next("compute", {f"use_{a}": "on", f"datastores_{a}": ["vio-compute-nfs"]}) == "glance"
    wizard.goto("glance", "review")
    review = wizard.get("review")
    (blocking,) = review.context["review_blocking"]
    assert blocking["step"] == "management_network" and "'10.20.0.' is not an IPv4 address" in blocking["message"]
    assert review.context["form"].errors == {}  # nothing is wrong before the user acted
    wizard.goto("review", "management_network", {})
    network = wizard.get("management_network").context["form"]
    assert network["gateway"].value() == "10.20.0." and network["ip_ranges"].value() == "10.20.0.10-10.20.0.40"
    wizard.next("management_network", {**wizard.shown("management_network"), "gateway": "10.20.0.1"})
    review = wizard.get("review")
    assert review.context["review_blocking"] == [] and review.context["plan"]["totals"]["memory_gb"] == 40


def test_a_step_reports_every_problem_in_one_pass_with_precise_messages(admin_client, vcsim, vcenter):
    wizard = Wizard(admin_client)
    walk(wizard, valid_spec(vcsim), vcenter, until="management_network")
    base = {"portgroup": "VIO-Management", "netmask": "255.255.255.0", "gateway": "10.20.0.1"}
    # A DNS typo does not hide the overlap and the range outside the subnet.
    errors = wizard.errors("management_network", {**base, "dns_servers": "10.20.0.2x",
                                                  "ip_ranges": "10.20.0.10-10.20.0.40\n10.20.0.30-10.20.0.50\n10.30.0.1-10.30.0.9"})
    assert set(errors) == {"dns_servers", "ip_ranges"}
    assert "'10.20.0.2x' is not an IPv4 address" in errors["dns_servers"]
    assert "Line 2: 10.20.0.30-10.20.0.50 overlaps 10.20.0.10-10.20.0.40" in errors["ip_ranges"]
    assert "Line 3: 10.30.0.1-10.30.0.9 is not inside the management subnet" in errors["ip_ranges"]
    # A reversed range says so (not "the ranges hold 0").
    errors = wizard.errors("management_network", {**base, "ip_ranges": "10.20.0.40-10.20.0.10"})
    assert errors == {"ip_ranges": "Line 1: 10.20.0.40-10.20.0.10: the start is after the end; write it as "
                                   "10.20.0.10-10.20.0.40."}
    # A gateway typo is on the gateway only, not on every range.
    errors = wizard.errors("management_network", {**base, "gateway": "10.2.0.1",
                                                  "ip_ranges": "10.20.0.10-10.20.0.20\n10.20.0.30-10.20.0.40"})
    assert list(errors) == ["gateway"] and "not in the subnet of the IP ranges (10.20.0.0/24" in errors["gateway"]
    # A network where one address is asked for is explained; where ranges are asked for, it is their hosts.
    errors = wizard.errors("management_network", {**base, "gateway": "10.20.0.0/24", "ip_ranges": "10.20.0.64/27"})
    assert errors == {"gateway": "Gateway: 10.20.0.0/24 is a network: give one address, not a network (e.g. 10.20.0.1)"
                      .split(": ", 1)[1]}
    assert wizard.next("management_network", {**base, "netmask": "/24", "ip_ranges": "10.20.0.64/27"}) == "external_network"
    assert wizard.get("management_network").context["form"]["ip_ranges"].value() == "10.20.0.64/27"
    stored = admin_client.session[f"wizard_deploy_{wizard.id}"]["extra_data"]["fragments"]["management_network"]
    assert stored["management_network"]["ip_ranges"] == [{"start": "10.20.0.65", "end": "10.20.0.94"}]
    assert stored["management_network"]["netmask"] == "/24"


def test_addresses_other_deployments_hold_are_found_where_they_are_typed(admin_client, vcsim, vcenter):
    from deployments.services.launch import create_deployment
    from testkit.spec import ACKNOWLEDGED

    create_deployment(valid_spec(vcsim), acknowledged={ACKNOWLEDGED})  # cloud1 holds 10.20.0.10-23 and 192.0.2.5
    spec = valid_spec(vcsim)
    spec["name"] = "cloud2"
    wizard = Wizard(admin_client)
    walk(wizard, spec, vcenter, until="management_network")
    network = {"portgroup": "VIO-Management", "netmask": "255.255.255.0", "gateway": "10.20.0.1",
               "ip_ranges": "10.20.0.10-10.20.0.35"}
    errors = wizard.errors("management_network", network)
    assert list(errors) == ["ip_ranges"]
    assert "Only 12 addresses of these ranges are free: deployment cloud1 holds 14 of them" in errors["ip_ranges"]
    wizard.next("management_network", {**network, "ip_ranges": "10.20.0.10-10.20.0.60"})
    wizard.next("external_network", {"portgroup": "VIO-External", "ip_ranges": "192.0.2.10-192.0.2.20",
                                     "netmask": "255.255.255.0", "gateway": "192.0.2.1"})
    errors = wizard.errors("load_balancer", {"public_vip": "192.0.2.5", "public_hostname": "localhost"})
    assert errors == {"public_vip": "The public VIP 192.0.2.5 belongs to deployment cloud1; choose another address."}
    assert wizard.next("load_balancer", {"public_vip": "192.0.2.6", "public_hostname": "localhost"}) == "compute"


def test_uplink_port_groups_are_not_offered_and_are_refused(admin_client, vcsim, vcenter):
    uplink = m.Network.objects.get(vcenter=vcenter, uplink=True).name
    spec = valid_spec(vcsim)
    wizard = Wizard(admin_client)
    walk(wizard, spec, vcenter, until="management_network")
    assert uplink not in wizard.get("management_network").content.decode()
    network = {"portgroup": uplink, "ip_ranges": "10.20.0.10-10.20.0.40", "netmask": "255.255.255.0", "gateway": "10.20.0.1"}
    errors = wizard.errors("management_network", network)
    assert errors == {"portgroup": f"{uplink} is the uplink port group of VIO-DSwitch: it holds the hosts' physical "
                                   "adapters, and vCenter does not connect a VM to it. Choose a port group for VMs."}
    walk(wizard, spec, vcenter, until="external_network")
    errors = wizard.errors("external_network", {"portgroup": uplink, "ip_ranges": "192.0.2.10-192.0.2.20",
                                                "netmask": "255.255.255.0", "gateway": "192.0.2.1"})
    assert list(errors) == ["portgroup"] and "uplink port group" in errors["portgroup"]
    walk(wizard, spec, vcenter, until="dvs")
    assert uplink not in wizard.get("dvs").content.decode()
    errors = wizard.errors("dvs", {"switch": "VIO-DSwitch", "trunk_portgroup": uplink})
    assert list(errors) == ["trunk_portgroup"] and errors["trunk_portgroup"].startswith(f"{uplink} is the uplink port group")


@pytest.fixture
def web_files(tmp_path):
    """A loopback web server with a small OVA (a tar archive), a web page, and nothing else."""
    import tarfile

    from testkit.ova import FileServer

    with tarfile.open(tmp_path / "vio.ova", "w", format=tarfile.USTAR_FORMAT) as archive:
        descriptor = tmp_path / "vio.ovf"
        descriptor.write_text("<Envelope/>")
        archive.add(descriptor, arcname="vio.ovf")
    (tmp_path / "download.html").write_text("<!doctype html><title>Downloads</title><a href='vio.ova'>OVA</a>")
    server = FileServer(tmp_path)
    yield server
    server.stop()


def test_the_ova_url_is_checked_on_its_step(admin_client, vcsim, vcenter, web_files):
    wizard = Wizard(admin_client)
    walk(wizard, valid_spec(vcsim), vcenter, until="appliance")
    missing = web_files.url("gone.ova")
    errors = wizard.errors("appliance", {"source": "url", "url": missing})
    assert errors == {"url": f"{missing} answered HTTP 404 File not found: there is no file at this URL."}
    errors = wizard.errors("appliance", {"source": "url", "url": web_files.url("download.html")})
    assert errors == {"url": f"{web_files.url('download.html')} is a web page (text/html), not an OVA: give the link "
                             "to the .ova file itself."}
    good = web_files.url("vio.ova").replace("http://", "http://user:pw@")
    assert wizard.next("appliance", {"source": "url", "url": good}) == "review"
    review = wizard.get("review")
    (appliance,) = [s for s in review.context["sections"] if s["key"] == "appliance"]
    rows = dict(appliance["rows"])
    assert rows["OVA URL"] == web_files.url("vio.ova").replace("http://", "http://***@") and "pw" not in str(rows)
    assert rows["Checked"].startswith("10 KiB") and "a tar archive" in rows["Checked"]
    assert "pw@" not in review.content.decode()


def test_the_review_shows_every_choice_in_vios_order_with_the_plan(admin_client, vcsim, vcenter):
    from deployments.services.launch import create_deployment, preview
    from testkit.spec import ACKNOWLEDGED

    create_deployment(valid_spec(vcsim), acknowledged={ACKNOWLEDGED})  # cloud1 holds the first addresses
    spec = valid_spec(vcsim)
    spec.update(name="cloud2", load_balancer={"public_vip": "192.0.2.6", "public_hostname": "localhost"})
    spec["management_network"]["ip_ranges"] = [{"start": "10.20.0.10", "end": "10.20.0.60"}]
    spec["compute_clusters"].append({"cluster": "Compute-B", "datastore_regex": "^vio-"})
    wizard = Wizard(admin_client)
    walk(wizard, spec, vcenter)
    review = wizard.get("review")
    sections = review.context["sections"]
    assert [s["title"] for s in sections] == [
        "Deployment", "vCenter", "Management cluster", "Management network", "External network", "Load balancer",
        "Compute clusters (Nova)", "Glance datastore", "Neutron networking", "OpenStack identity (Keystone)", "Syslog",
        "Appliance OVA"]
    assert [s["step"] for s in sections] == ["start", "vcenter", "datacenter", "management_network", "external_network",
                                             "load_balancer", "compute", "glance", "dvs", "keystone", "syslog", "appliance"]
    rows = {s["key"]: dict(s["rows"]) for s in sections}
    plan = preview(wizard.get("review").context["view"].state.spec_for_checks())  # the one source of addresses
    assert review.context["plan"]["vms"] == plan["vms"] and review.context["plan"]["internal_vip"] == "10.20.0.24"
    assert rows["management_network"] == {
        "Port group": "VIO-Management — VLAN 100, on VIO-DSwitch", "IP ranges": "10.20.0.10–10.20.0.60",
        "Netmask": "255.255.255.0", "Gateway": "10.20.0.1", "DNS servers": "10.20.0.2", "Internal VIP": "10.20.0.24"}
    assert rows["compute"] == {"Compute-A": "datastores vio-compute-nfs · nova-compute VM cloud2-compute-01",
                               "Compute-B": "datastores matching ^vio- · nova-compute VM cloud2-compute-02"}
    assert rows["neutron"] == {"Networking": "DVS (VLANs)", "Distributed switch": "VIO-DSwitch",
                               "Trunk port group (data network)": "VIO-Data-Trunk"}
    assert rows["keystone"]["Admin password"] == "set (not shown)" and rows["keystone"]["Identity backend"] == "SQL database"
    assert rows["syslog"] == {"Syslog server": "localhost:514 over UDP"}
    assert rows["vcenter"]["vCenter"] == f"vc ({vcsim.host}:{vcsim.port})"
    assert "60 vCPU, 200 GB RAM" in rows["datacenter"]["Topology"]
    page = review.content.decode()
    assert "nova-compute for Compute-B" in page and page.count('name="wizard_goto_step" value="compute"') >= 1
    # The topology hint on step 3 gives the same figures as the review.
    labels = dict(wizard.get("datacenter").context["form"].fields["topology"].choices)
    assert "about 60 vCPU, 200 GB RAM, 625 GB disk with 2 compute clusters and DVS" in labels["ha"]
    assert review.context["plan"]["totals"] == {"vcpu": 60, "memory_gb": 200, "disk_gb": 625}


def test_dhcp_vms_of_dvs_are_counted_on_the_neutron_step(admin_client, vcsim, vcenter):
    """HA with NSX needs 160 GB, with DVS (2 DHCP VMs) 192 GB: with 170 GB free, the Management cluster step
    notes it (DVS is the Neutron step's default), the Neutron step refuses DVS, NSX passes."""
    free_memory(vcenter, "Management", 170)
    spec = valid_spec(vcsim)
    wizard = Wizard(admin_client)
    walk(wizard, spec, vcenter, until="datacenter")
    data = {"datacenter": "VIO-Datacenter", "topology": "ha", "management_cluster": "Management",
            "management_datastores": ["vio-shared-nfs"]}
    response = wizard.post("datacenter", {**data, "topology": "compact"}, raw={"wizard_goto_step": "datacenter"})
    page = wizard.get("datacenter")
    assert response.status_code == 302 and not page.context["notes"]  # compact fits
    assert wizard.next("datacenter", data) == "management_network"
    (note,) = wizard.get("datacenter").context["notes"]
    assert note["step"] == "neutron" and note["text"].startswith("With DVS, the default on the step Neutron networking")
    walk(wizard, spec, vcenter, until="neutron")
    errors = wizard.errors("neutron", {"mode": "dvs"})
    assert errors == {"__all__": "With DVS chosen here (it adds 2 DHCP VMs): The plan needs 192 GB of memory (13 VMs); "
                                 "Management has 170 GB free. Free memory or add hosts there, choose another management "
                                 "cluster, or choose the compact topology. Or choose NSX here."}
    assert wizard.next("neutron", {"mode": "nsx"}) == "nsx"
