"""The Deploy OpenStack wizard in Chromium against live_server and the simulators: the DVS path and
the NSX path end to end (each registering a connection on its step), save a template on the review
step and deploy again from it, a validation error on its field with the error summary."""

import re

import pytest

from deployments.models import Deployment, DeploymentTemplate
from testkit.spec import registered_vcenter, valid_spec

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN_PASSWORD = "Secret-Admin-1"


def step_of(page) -> str:
    return page.url.rstrip("/").rsplit("/", 1)[-1]


def submit(page, selector: str) -> None:
    """Click a button that posts its form, and wait for the page that answers."""
    with page.expect_navigation():
        page.click(selector)


def next_step(page, expected: str) -> None:
    submit(page, "#wizard-next")
    assert step_of(page) == expected, page.inner_text(".wizard-main")


def start(page, live_server, name: str = "cloud1") -> None:
    page.goto(live_server.url + "/")
    page.click("nav.main-nav >> text=Deploy OpenStack")
    page.wait_for_url(re.compile(r".*/deployments/new/[0-9a-f]+/start/$"))
    page.fill("#id_start-name", name)
    page.check("#id_start-source_0")
    next_step(page, "vcenter")


def register_vcenter(page, vcsim) -> None:
    page.fill("#id_newvc-name", "vcsa-lab")
    page.fill("#id_newvc-host", vcsim.host)
    page.fill("#id_newvc-port", str(vcsim.port))
    page.fill("#id_newvc-username", vcsim.username)
    page.fill("#id_newvc-password", vcsim.password)
    submit(page, "#register-connect")
    assert page.inner_text("#cert-sha256") == vcsim.fingerprint
    assert "vcsa.vio.local" in page.inner_text("#cert-subject")
    page.click("#accept-certificate")
    page.wait_for_url(re.compile(r".*/datacenter/$"))


def placement_and_networks(page, spec: dict) -> None:
    page.select_option("#id_datacenter-management_cluster", "Management")
    page.check("input[name='datacenter-management_datastores'][value='vio-shared-nfs']")
    next_step(page, "management_network")
    for step in ("management_network", "external_network"):
        network = spec[step]
        page.select_option(f"#id_{step}-portgroup", network["portgroup"])
        page.fill(f"#id_{step}-ip_ranges", "\n".join(f"{r['start']}-{r['end']}" for r in network["ip_ranges"]))
        page.fill(f"#id_{step}-netmask", network["netmask"])
        page.fill(f"#id_{step}-gateway", network["gateway"])
        page.fill(f"#id_{step}-dns_servers", ", ".join(network["dns_servers"]))
        next_step(page, "external_network" if step == "management_network" else "load_balancer")
    page.fill("#id_load_balancer-public_vip", spec["load_balancer"]["public_vip"])
    page.fill("#id_load_balancer-public_hostname", spec["load_balancer"]["public_hostname"])
    next_step(page, "compute")
    page.get_by_label("Use Compute-A for Nova").check()
    page.check("fieldset.compute-row:has(legend:text-is('Compute-A')) input[value='vio-compute-nfs']")
    next_step(page, "glance")
    page.select_option("#id_glance-datastore", spec["glance_datastore"])
    next_step(page, "neutron")


def services_and_review(page, spec: dict) -> None:
    page.fill("#id_keystone-admin_password", ADMIN_PASSWORD)
    next_step(page, "syslog")
    page.fill("#id_syslog-host", "localhost")
    next_step(page, "appliance")
    page.fill("#id_appliance-url", spec["appliance_ova"]["url"])
    next_step(page, "review")
    assert "cloud1-controller-01" in page.inner_text("#plan") or "controller-01" in page.inner_text("#plan")


def deploy(page) -> Deployment:
    for box in page.locator(".issues.advisory input[type=checkbox]").all():
        box.check()
    submit(page, "#wizard-next")
    page.wait_for_url(re.compile(r".*/deployments/\d+/$"))
    assert "(run 1)" in page.inner_text("#status")  # launched: the engine's first run exists
    return Deployment.objects.get(pk=int(page.url.rstrip("/").rsplit("/", 1)[-1]))


def test_the_dvs_path_end_to_end(signed_in, live_server, vcsim):
    page, spec = signed_in, valid_spec(vcsim)
    start(page, live_server)
    register_vcenter(page, vcsim)
    placement_and_networks(page, spec)
    page.check("#id_neutron-mode_0")  # DVS
    next_step(page, "dvs")
    assert [s.strip() for s in page.locator(".wizard-steps li .name").all_inner_texts()][9] == "Distributed switch"
    page.select_option("#id_dvs-trunk_portgroup", "VIO-Data-Trunk")
    next_step(page, "keystone")
    services_and_review(page, spec)
    assert "192 " in page.inner_text("#plan-totals") or "192" in page.inner_text("#plan-totals")
    deployment = deploy(page)
    assert deployment.name == "cloud1" and deployment.spec["neutron"]["mode"] == "dvs"
    assert deployment.spec["management_network"]["ip_ranges"] == [{"start": "10.20.0.10", "end": "10.20.0.40"}]


def test_the_nsx_path_end_to_end(signed_in, live_server, vcsim, nsxv):
    registered_vcenter(vcsim)
    page, spec = signed_in, valid_spec(vcsim, mode="nsx", nsxv=nsxv)
    start(page, live_server)
    next_step(page, "datacenter")  # the only registered vCenter is chosen already
    placement_and_networks(page, spec)
    page.check("#id_neutron-mode_1")  # NSX
    next_step(page, "nsx")
    names = page.locator(".wizard-steps li .name").all_inner_texts()
    assert "NSX for vSphere" in names and "Distributed switch" not in names

    page.fill("#id_newnsx-name", "nsx-lab")
    page.fill("#id_newnsx-host", nsxv.host)
    page.fill("#id_newnsx-port", str(nsxv.port))
    page.fill("#id_newnsx-username", nsxv.username)
    page.fill("#id_newnsx-password", nsxv.password)
    submit(page, "#register-connect")
    assert page.inner_text("#cert-sha256") == nsxv.fingerprint
    submit(page, "#accept-certificate")
    assert "NSX 6.4.5" in page.inner_text("#id_nsx-manager option:checked")
    page.select_option("#id_nsx-transport_zone", "vdnscope-1")
    page.select_option("#id_nsx-edge_cluster", "Edge")
    page.select_option("#id_nsx-vds", "VIO-DSwitch")
    page.select_option("#id_nsx-external_portgroup", "VIO-External")
    next_step(page, "keystone")
    services_and_review(page, spec)
    assert "dhcp" not in page.inner_text("#plan")
    deployment = deploy(page)
    assert deployment.spec["neutron"] == {"mode": "nsx", "nsx": {
        "manager": {"host": nsxv.host, "port": nsxv.port}, "transport_zone": "vdnscope-1", "edge_cluster": "Edge",
        "vds": "VIO-DSwitch", "external_portgroup": "VIO-External"}}


def test_save_a_template_on_review_then_deploy_again_from_it(signed_in, live_server, vcsim):
    registered_vcenter(vcsim)
    page, spec = signed_in, valid_spec(vcsim)
    start(page, live_server)
    next_step(page, "datacenter")
    placement_and_networks(page, spec)
    next_step(page, "dvs")
    page.select_option("#id_dvs-trunk_portgroup", "VIO-Data-Trunk")
    next_step(page, "keystone")
    services_and_review(page, spec)
    page.fill("#id_save-name", "lab")
    submit(page, "#save-template")
    assert "Saved the template lab" in page.inner_text("main")
    first = deploy(page)

    page.goto(live_server.url + "/templates/")
    page.click("#templates a:text-is('Deploy')")
    page.wait_for_url(re.compile(r".*/start/\?template=\d+$"))
    assert page.locator("#id_start-source_1").is_checked()
    assert page.locator("#id_start-template option:checked").inner_text() == "lab"
    page.fill("#id_start-name", "cloud2")
    next_step(page, "vcenter")
    for step in ("datacenter", "management_network", "external_network", "load_balancer", "compute", "glance",
                 "neutron", "dvs", "keystone"):
        next_step(page, step)  # each step comes pre-filled from the template
        if step == "load_balancer":  # cloud1 holds the template's public VIP now
            page.fill("#id_load_balancer-public_vip", "192.0.2.6")
    assert page.input_value("#id_keystone-admin_password") == ""
    submit(page, "#wizard-next")  # the password is asked again
    assert "Type the OpenStack admin password." in page.inner_text("#error-summary")
    page.fill("#id_keystone-admin_password", ADMIN_PASSWORD)
    for step in ("syslog", "appliance", "review"):
        next_step(page, step)
    second = deploy(page)
    assert second.name == "cloud2" and second.pk != first.pk
    assert {**second.spec, "name": "cloud1", "load_balancer": first.spec["load_balancer"]} == first.spec
    assert second.spec["load_balancer"]["public_vip"] == "192.0.2.6"
    assert DeploymentTemplate.objects.get().spec["name"] == "cloud1"


def test_a_validation_error_on_its_field_with_the_error_summary(signed_in, live_server, vcsim):
    registered_vcenter(vcsim)
    page = signed_in
    start(page, live_server)
    next_step(page, "datacenter")
    page.select_option("#id_datacenter-management_cluster", "Management")
    page.check("input[name='datacenter-management_datastores'][value='vio-shared-nfs']")
    next_step(page, "management_network")
    page.select_option("#id_management_network-portgroup", "VIO-Management")
    page.fill("#id_management_network-ip_ranges", "10.20.0.10-10.20.0.40")
    page.fill("#id_management_network-netmask", "255.255.255.0")
    page.fill("#id_management_network-gateway", "10.20.0.20")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # Enter means Next
    assert step_of(page) == "management_network"
    summary = page.locator("#error-summary")
    assert "There is a problem on this step" in summary.inner_text()
    link = summary.locator("a")
    assert link.get_attribute("href") == "#id_management_network-gateway"
    assert "The gateway 10.20.0.20 is inside the range 10.20.0.10-10.20.0.40" in link.inner_text()
    error = page.locator("#id_management_network-gateway_error")
    assert "take it out of the range" in error.inner_text()
    assert page.evaluate("document.activeElement.id") == "id_management_network-gateway"
    assert page.get_attribute("#id_management_network-gateway", "aria-invalid") == "true"
    page.fill("#id_management_network-gateway", "10.20.0.1")
    next_step(page, "external_network")
