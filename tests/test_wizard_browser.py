"""The Deploy OpenStack wizard in Chromium against live_server and the simulators: the DVS path and
the NSX path end to end (each registering a connection on its step), save a template on the review
step and deploy again from it, a validation error on its field with the error summary; steps revisited
from the step list and the review without losing anything (a check that spans steps reported once,
where it is caused), every problem of a step in one pass, an uplink port group refused, the OVA's URL
checked on its step. The longer walks are typed through a test client sharing the browser's session."""

import re

import pytest

from deployments.models import Deployment, DeploymentTemplate
from inventory import models as m
from testkit.spec import registered_vcenter, valid_spec
from testkit.wizard import Wizard, browser_client, walk

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
    assert "run 1)" in page.inner_text("#status")  # launched: the engine's first run exists
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


# --- revisiting steps, one-pass errors, uplinks, the OVA's URL --------------------------------------


def errors_shown(page) -> list[str]:
    return [text.strip() for text in page.locator("#error-summary li").all_inner_texts()]


def test_revisiting_steps_from_the_review_and_the_step_list_loses_nothing(signed_in, live_server, vcsim):
    """The administrator's walk: compact, two compute clusters; the review finds 48 GB needed and 42 free;
    the Management cluster step (from the review) is not refused for the compute VMs of step 7; the step
    list's Compute clusters keeps both clusters and says what to fix, with a link back."""
    vcenter = registered_vcenter(vcsim)
    page = signed_in
    spec = valid_spec(vcsim)
    spec.update(topology="compact", compute_clusters=[{"cluster": "Compute-A", "datastores": ["vio-compute-nfs"]},
                                                      {"cluster": "Compute-B", "datastores": ["vio-compute-nfs"]}])
    wizard = Wizard(browser_client(page))
    walk(wizard, spec, vcenter)
    cluster = m.Cluster.objects.get(vcenter=vcenter, name="Management")
    m.Cluster.objects.filter(pk=cluster.pk).update(memory_used_bytes=cluster.memory_bytes - 42 * 2**30)

    page.goto(live_server.url + wizard.url("review"))
    blocking = page.inner_text("#review-blocking")
    assert "The plan needs 48 GB of memory (3 VMs); Management has 42 GB free" in blocking
    assert "compact topology" not in blocking and "Go to Compute clusters" in blocking
    assert page.locator("#error-summary").count() == 0  # nothing is wrong before the user acted
    assert "48" in page.inner_text("#plan-totals")
    page.screenshot(path="/tmp/wizard-review-blocking.png", full_page=True)

    submit(page, "#summary-datacenter button:text-is('Change')")  # the review's way back to step 3
    assert step_of(page) == "datacenter" and page.locator("#error-summary").count() == 0
    assert "With the 2 compute clusters chosen on the step Compute clusters" in page.inner_text("#step-notes")
    assert "about 16 vCPU, 48 GB RAM" in page.inner_text("#field-datacenter-topology")  # as the review says
    next_step(page, "management_network")  # step 3 is not refused for step 7's VMs
    assert "needs at least 3 addresses here: one per VM." in page.inner_text("#step-intro")  # compact wording

    submit(page, ".wizard-steps button:has-text('Compute clusters')")
    assert step_of(page) == "compute"
    for name in ("Compute-A", "Compute-B"):
        assert page.get_by_label(f"Use {name} for Nova").is_checked()
    (problem,) = errors_shown(page)
    assert problem.startswith("With the 2 compute clusters chosen here: The plan needs 48 GB")
    assert page.locator("#error-summary button").inner_text() == "Go to Management cluster"
    states = page.locator(".wizard-steps li").evaluate_all("items => items.map(li => li.dataset.step + ' ' + li.className)")
    assert states == [f"{step} {'current' if step == 'compute' else 'todo' if step == 'review' else 'done'}" for step in (
        "start", "vcenter", "datacenter", "management_network", "external_network", "load_balancer", "compute", "glance",
        "neutron", "dvs", "keystone", "syslog", "appliance", "review")]
    assert page.locator(".wizard-steps button:has-text('Management cluster')").count() == 1  # reachable
    page.get_by_label("Use Compute-B for Nova").uncheck()
    next_step(page, "glance")
    submit(page, ".wizard-steps button:has-text('Ready to complete')")
    assert page.locator("#review-blocking").count() == 0
    assert "40" in page.inner_text("#plan-totals") and "nova-compute for Compute-A" in page.inner_text("#plan")
    page.screenshot(path="/tmp/wizard-review.png", full_page=True)


def test_a_step_shows_all_its_problems_at_once_and_refuses_an_uplink(signed_in, live_server, vcsim):
    from deployments.services.templates import save_as_template

    vcenter = registered_vcenter(vcsim)
    uplink = m.Network.objects.get(vcenter=vcenter, uplink=True).name
    spec = valid_spec(vcsim)
    spec["management_network"]["portgroup"] = uplink  # a template from before uplinks were refused
    template = save_as_template(spec, name="old lab")
    page = signed_in
    wizard = Wizard(browser_client(page), query=f"?template={template.pk}")
    wizard.next("start", {"name": "cloud1", "source": "saved", "template": template.pk})
    wizard.next("vcenter", {"vcenter": vcenter.pk})
    wizard.next("datacenter", wizard.shown("datacenter"))
    page.goto(live_server.url + wizard.url("management_network"))
    assert page.input_value("#id_management_network-portgroup") == uplink
    assert "(not offered: see the message)" in page.inner_text("#id_management_network-portgroup option:checked")
    page.fill("#id_management_network-ip_ranges", "10.20.0.40-10.20.0.10\n10.30.0.1-10.30.0.9")
    page.fill("#id_management_network-dns_servers", "10.20.0.2x")
    page.fill("#id_management_network-gateway", "10.20.0.0/24")
    submit(page, "#wizard-next")
    assert step_of(page) == "management_network"
    problems = errors_shown(page)
    assert problems == [
        f"Port group: {uplink} is the uplink port group of VIO-DSwitch: it holds the hosts' physical adapters, and "
        "vCenter does not connect a VM to it. Choose a port group for VMs.",
        "IP ranges: Line 1: 10.20.0.40-10.20.0.10: the start is after the end; write it as 10.20.0.10-10.20.0.40.",
        "Gateway: 10.20.0.0/24 is a network: give one address, not a network (e.g. 10.20.0.1)",
        "DNS servers: Address 1: '10.20.0.2x' is not an IPv4 address: give four numbers from 0 to 255 separated by "
        "dots, e.g. 10.20.0.1",
    ]
    options = page.locator("#id_management_network-portgroup option").all_inner_texts()
    assert not any(o.startswith(uplink + " —") for o in options)
    page.select_option("#id_management_network-portgroup", "VIO-Management")
    page.fill("#id_management_network-ip_ranges", "10.20.0.16/28\n10.20.0.32/28")
    page.fill("#id_management_network-gateway", "10.20.0.1")
    page.fill("#id_management_network-dns_servers", "10.20.0.2")
    next_step(page, "external_network")


def test_the_ova_url_is_checked_on_its_step(signed_in, live_server, vcsim, tmp_path):
    import tarfile

    from testkit.ova import FileServer

    with tarfile.open(tmp_path / "vio.ova", "w", format=tarfile.USTAR_FORMAT) as archive:
        (tmp_path / "vio.ovf").write_text("<Envelope/>")
        archive.add(tmp_path / "vio.ovf", arcname="vio.ovf")
    (tmp_path / "index.html").write_text("<!doctype html><title>Downloads</title>")
    server = FileServer(tmp_path)
    try:
        vcenter = registered_vcenter(vcsim)
        page = signed_in
        wizard = Wizard(browser_client(page))
        walk(wizard, valid_spec(vcsim), vcenter, until="appliance")
        page.goto(live_server.url + wizard.url("appliance"))
        page.fill("#id_appliance-url", server.url("vio-1.0.ova"))
        submit(page, "#wizard-next")
        assert errors_shown(page) == [f"OVA URL: {server.url('vio-1.0.ova')} answered HTTP 404 File not found: there is "
                                      "no file at this URL."]
        page.fill("#id_appliance-url", server.url(""))
        submit(page, "#wizard-next")
        assert errors_shown(page) == [f"OVA URL: {server.url('')} is a web page (text/html), not an OVA: give the link to "
                                      "the .ova file itself."]
        page.fill("#id_appliance-url", server.url("vio.ova"))
        next_step(page, "review")
        shown = page.inner_text("#summary-appliance")
        assert server.url("vio.ova") in shown and "10 KiB" in shown and "a tar archive" in shown
    finally:
        server.stop()
