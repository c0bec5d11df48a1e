"""The validate step's checks through openstacksdk, against FakeOpenStackApi (Keystone v3 + Nova v2.1 on
127.0.0.1): a token and the hypervisor list; a wrong password, an unreachable VIP, an untrusted certificate,
hypervisors missing. The Keystone URL comes from a bundle rendered by the real renderer."""

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from deployments.engine.executor import StepFailed
from deployments.engine.openstack_checks import CloudCheckFailed, check_cloud, keystone_endpoint
from tests.fake_openstack import FakeOpenStackApi
from tests.test_kolla_bundle import render, spec_of
from testkit.net import free_port

VCENTER_UUID = "5f3c2a10-8d4e-4b7a-9c61-0a1b2c3d4e5f"
PASSWORD = "Secret-Admin-1"  # the valid spec's admin password
CLUSTERS = {"Compute-A": "domain-c9", "Compute-B": "domain-c11"}  # as tests.test_kolla_bundle's facts


@pytest.fixture
def bundle(tmp_path):
    """A bundle as render_bundle writes it, for the spec of tests.test_kolla_bundle (public hostname localhost)."""
    for relative, content in render(spec_of("dvs")).items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return tmp_path


def set_globals(bundle: Path, **values) -> None:
    path = bundle / "globals.yml"
    # dict(): pyraml-parser (the NSX emulator's tests) registers its own mapping type with SafeLoader
    data = dict(yaml.safe_load(path.read_text()))
    data.update(values)
    path.write_text(yaml.safe_dump(data))


def hypervisor_names(*moids) -> list[str]:
    """As nova's vmware driver names its nodes: <cluster moid>.<vCenter instanceUuid>."""
    return [f"{moid}.{VCENTER_UUID}" for moid in moids]


def check(endpoint, password=PASSWORD, clusters=CLUSTERS):
    return check_cloud(endpoint, username="admin", password=password, project="admin", clusters=clusters,
                       vcenter_uuid=VCENTER_UUID, timeout=10)


def test_the_rendered_bundle_serves_keystone_over_http_on_5000_at_the_public_name(bundle):
    endpoint = keystone_endpoint(bundle)
    variables = yaml.safe_load((bundle / "globals.yml").read_text())
    assert "kolla_enable_tls_external" not in variables  # kolla's default: no TLS on a separate external VIP
    assert endpoint.url == "http://localhost:5000/v3" and endpoint.vip == variables["kolla_external_vip_address"]

    set_globals(bundle, kolla_enable_tls_external="yes")
    assert keystone_endpoint(bundle).url == "https://localhost:5000/v3"
    assert keystone_endpoint(bundle).verify is True  # no kolla-made CA in the bundle: the system's CAs
    (bundle / "certificates" / "ca").mkdir(parents=True, exist_ok=True)
    (bundle / "certificates" / "ca" / "root.crt").write_text("a CA")
    assert keystone_endpoint(bundle).verify == str(bundle / "certificates" / "ca" / "root.crt")


def test_a_token_and_every_compute_cluster_as_a_hypervisor(bundle):
    with FakeOpenStackApi(hypervisors=hypervisor_names("domain-c9", "domain-c11")) as api:
        set_globals(bundle, keystone_public_port=str(api.port))
        result = check(keystone_endpoint(bundle))

    assert result == {"keystone": f"http://localhost:{api.port}/v3", "hypervisors": sorted(hypervisor_names("domain-c9", "domain-c11"))}
    assert ("POST", "/v3/auth/tokens") in api.requests and ("GET", "/compute/v2.1/os-hypervisors/detail") in api.requests


def test_a_wrong_admin_password_is_a_401_with_what_to_do(bundle):
    with FakeOpenStackApi(hypervisors=hypervisor_names("domain-c9", "domain-c11")) as api:
        set_globals(bundle, keystone_public_port=str(api.port))
        with pytest.raises(CloudCheckFailed) as failure:
            check(keystone_endpoint(bundle), password="Not-The-Password-1")
    message = str(failure.value)
    assert "refused the admin user 'admin' of project 'admin' (HTTP 401)" in message
    assert "Correct the admin password" in message and "Not-The-Password-1" not in message
    assert not any(path.endswith("os-hypervisors/detail") for _, path in api.requests)


def test_an_unreachable_vip_says_what_to_check(bundle):
    set_globals(bundle, keystone_public_port=str(free_port()))
    with pytest.raises(CloudCheckFailed) as failure:
        check(keystone_endpoint(bundle))
    message = str(failure.value)
    assert "cannot be reached" in message and "public VIP 192.0.2.5" in message


def test_tls_trusts_the_ca_in_the_bundle_and_nothing_else(bundle, tmp_path_factory):
    with FakeOpenStackApi(hypervisors=hypervisor_names("domain-c9", "domain-c11"),
                          tls_directory=tmp_path_factory.mktemp("tls")) as api:
        set_globals(bundle, keystone_public_port=str(api.port), kolla_enable_tls_external="yes",
                    kolla_external_fqdn="127.0.0.1")
        with pytest.raises(CloudCheckFailed) as failure:
            check(keystone_endpoint(bundle))
        assert "is not trusted" in str(failure.value)

        (bundle / "certificates" / "ca").mkdir(parents=True, exist_ok=True)  # it holds the vCenter CA already
        shutil.copy(api.ca_path, bundle / "certificates" / "ca" / "root.crt")
        assert check(keystone_endpoint(bundle))["keystone"] == f"https://127.0.0.1:{api.port}/v3"


def test_missing_hypervisors_are_named(bundle):
    with FakeOpenStackApi(hypervisors=[]) as api:
        set_globals(bundle, keystone_public_port=str(api.port))
        with pytest.raises(CloudCheckFailed, match="Nova lists no hypervisors yet"):
            check(keystone_endpoint(bundle))
        api.hypervisors = hypervisor_names("domain-c9") + ["domain-c11.another-vcenter-uuid"]
        with pytest.raises(CloudCheckFailed) as failure:
            check(keystone_endpoint(bundle))
    assert "none for the compute cluster(s) Compute-B (domain-c11)" in str(failure.value)


# --- the step ---------------------------------------------------------------------------------------------------


def step_context(bundle: Path, password: str = PASSWORD):
    spec = spec_of("dvs", keystone={"admin_user": "admin", "admin_password": password, "admin_project": "admin",
                                    "backend": "sql"})
    return SimpleNamespace(
        spec=spec, outputs={"render_bundle": {"directory": str(bundle)}},
        inventory=SimpleNamespace(clusters={name: SimpleNamespace(moid=moid) for name, moid in CLUSTERS.items()}),
        deployment=SimpleNamespace(vcenter=SimpleNamespace(about={"instanceUuid": VCENTER_UUID})))


def test_the_validate_step_on_real_hosts(bundle, settings):
    from deployments.engine.steps.openstack import validate

    settings.VIO_SIMULATED_HOSTS = False
    with FakeOpenStackApi(hypervisors=hypervisor_names("domain-c9", "domain-c11")) as api:
        set_globals(bundle, keystone_public_port=str(api.port))
        assert validate(step_context(bundle))["hypervisors"] == sorted(hypervisor_names("domain-c9", "domain-c11"))
        with pytest.raises(StepFailed, match=r"\(HTTP 401\)"):
            validate(step_context(bundle, password="Other-Password-2"))

    settings.VIO_SIMULATED_HOSTS = True
    skipped = validate(step_context(bundle))
    assert skipped.reason == "not executed: simulated hosts have no OpenStack to ask for a token"
