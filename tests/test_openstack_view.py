"""Health's look at a running cloud through openstacksdk (engine.openstack_checks.observe_cloud), against
FakeOpenStackApi: nova-compute services per compute cluster, their hypervisors, Neutron's agents and the
catalog's public endpoints, each problem a finding that names its objects and says what to do."""

from deployments.engine.openstack_checks import keystone_endpoint, observe_cloud
from tests.fake_openstack import FakeOpenStackApi
from tests.test_openstack_validate import bundle  # noqa: F401  (the fixture: a rendered bundle)
from tests.test_openstack_validate import CLUSTERS, PASSWORD, VCENTER_UUID, hypervisor_names, set_globals


def observe(bundle_dir):
    return observe_cloud(keystone_endpoint(bundle_dir), username="admin", password=PASSWORD, project="admin",
                         clusters=CLUSTERS, vcenter_uuid=VCENTER_UUID, timeout=5)


def by_kind(seen) -> dict:
    return {problem["kind"]: problem for problem in seen["problems"]}


def test_a_well_cloud_has_no_problems_and_says_what_it_counted(bundle):
    with FakeOpenStackApi(hypervisors=hypervisor_names("domain-c9", "domain-c11")) as api:
        set_globals(bundle, keystone_public_port=str(api.port))
        seen = observe(bundle)
    assert seen["problems"] == []
    assert seen["summary"] == {"compute_services": 2, "hypervisors": 2, "agents": 2, "endpoints": 3}
    asked = {path.split("?")[0] for _, path in api.requests}
    assert {"/compute/v2.1/os-services", "/compute/v2.1/os-hypervisors/detail", "/network/v2.0/agents"} <= asked
    assert any("binary=nova-compute" in path for _, path in api.requests)


def test_services_down_or_disabled_and_dead_agents_are_findings(bundle):
    with FakeOpenStackApi(hypervisors=hypervisor_names("domain-c9", "domain-c11")) as api:
        set_globals(bundle, keystone_public_port=str(api.port))
        api.services[0].update(state="down")  # compute-0 serves domain-c9: Compute-A
        api.services[1].update(status="disabled", disabled_reason="hardware work")
        api.agents[0].update(alive=False)
        problems = by_kind(observe(bundle))

    assert set(problems) == {"nova_compute_down", "nova_compute_disabled", "neutron_agent_down"}
    down = problems["nova_compute_down"]
    assert down["severity"] == "error" and down["id"] == "nova_compute_down:Compute-A"
    assert "nova-compute on compute-0, which serves the compute cluster Compute-A, is down" in down["message"]
    assert "nova_compute container on compute-0" in down["advice"]
    assert down["objects"][0] == {"type": "ClusterComputeResource", "name": "Compute-A", "moid": "domain-c9"}
    disabled = problems["nova_compute_disabled"]
    assert disabled["severity"] == "warning" and "disabled (hardware work)" in disabled["message"]
    assert "openstack compute service set --enable compute-1 nova-compute" in disabled["advice"]
    agent = problems["neutron_agent_down"]
    assert agent["severity"] == "error" and "neutron-dhcp-agent on controller-01" in agent["message"]


def test_a_missing_hypervisor_and_a_failing_endpoint_are_findings(bundle):
    with FakeOpenStackApi(hypervisors=hypervisor_names("domain-c9")) as api:
        set_globals(bundle, keystone_public_port=str(api.port))
        api.failing.add("/network")
        seen = observe(bundle)
    problems = by_kind(seen)
    assert set(problems) == {"hypervisor_missing", "neutron_api_failing", "endpoint_down"}
    assert problems["hypervisor_missing"]["message"] == "Nova lists no hypervisor for the compute cluster Compute-B."
    assert problems["endpoint_down"]["message"].startswith(f"The public endpoint of neutron (http://127.0.0.1:{api.port}/network) does not answer: HTTP 503")
    assert seen["summary"]["agents"] == 0 and seen["summary"]["endpoints"] == 3
