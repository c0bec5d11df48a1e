"""The kolla-ansible 2025.1 bundle: rendered from a spec and plan, checked against the installed kolla-ansible 20.x."""

import configparser
from types import SimpleNamespace

import pytest
import yaml

from deployments.engine.kolla import KollaBundleError, KollaFacts, check_bundle, facts_from_inventory, render_bundle
from deployments.engine.kolla.check import known_passwords, multinode_children
from deployments.engine.kolla.groups import MULTINODE_CHILDREN
from deployments.engine.kolla.passwords import KOLLA_PASSWORD_KEYS
from deployments.plan import build_plan
from deployments.spec.model import DeploymentSpec
from testkit.spec import registered_vcenter, valid_spec

VC = SimpleNamespace(host="vc.example.local", port=443)
NSX = SimpleNamespace(host="nsx.example.local", port=443)
CA = "-----BEGIN CERTIFICATE-----\nMIIBdummy\n-----END CERTIFICATE-----\n"
SECRETS = {"master_key": "m" * 43, "vmware_vcenter_host_password": "Vc-Secret-77", "vmware_nsxv_password": "Nsx-Secret-88"}


def spec_of(mode="dvs", **changes):
    data = valid_spec(VC, mode=mode, nsxv=NSX)
    data["compute_clusters"] = [{"cluster": "Compute-A", "datastores": ["vio-compute-nfs"]},
                                {"cluster": "Compute-B", "datastore_regex": "^gold-.*"}]
    data.update(changes)
    return DeploymentSpec.model_validate(data)


def facts(**changes):
    values = dict(
        vcenter_username="svc-openstack@vsphere.local", datacenter_moid="datacenter-2",
        cluster_moids={"Compute-A": "domain-c9", "Compute-B": "domain-c11", "Edge": "domain-c13"},
        cluster_resource_pools={"Edge": "resgroup-14"},
        datastore_moids={"vio-shared-nfs": "datastore-20", "vio-compute-nfs": "datastore-21"},
        network_moids={"VIO-External": "dvportgroup-30", "VIO-Management": "dvportgroup-31"},
        switch_moids={"VIO-DSwitch": "dvs-40"}, vcenter_ca_pem=CA, nsx_username="admin", nsx_ca_pem=CA,
        transport_zone_id="vdnscope-1")
    values.update(changes)
    return KollaFacts(**values)


def render(spec, **fact_changes):
    return render_bundle(spec, build_plan(spec), facts(**fact_changes), SECRETS)


def ini(text):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read_string(text)
    return parser


@pytest.fixture(params=["dvs", "nsx"])
def mode(request):
    return request.param


def test_both_modes_pass_the_check(mode):
    bundle = render(spec_of(mode))
    assert check_bundle(bundle) == []
    variables = yaml.safe_load(bundle["globals.yml"])
    assert variables["nova_compute_virt_type"] == "vmware"
    assert variables["neutron_plugin_agent"] == {"dvs": "vmware_dvs", "nsx": "vmware_nsxv"}[mode]
    assert variables["openstack_release"] == "2025.1"
    assert variables["glance_backend_vmware"] == variables["cinder_backend_vmwarevc_vmdk"] == "yes"


def test_nsx_globals_carry_the_moids():
    variables = yaml.safe_load(render(spec_of("nsx"))["globals.yml"])
    assert variables["vmware_nsxv_cluster_moid"] == "domain-c9,domain-c11"
    assert variables["vmware_nsxv_datacenter_moid"] == "datacenter-2"
    assert variables["vmware_nsxv_resource_pool_id"] == "resgroup-14"
    assert variables["vmware_nsxv_datastore_id"] == "datastore-20"
    assert variables["vmware_nsxv_external_network"] == "dvportgroup-30"
    assert variables["vmware_nsxv_vdn_scope_id"] == "vdnscope-1"
    assert variables["vmware_nsxv_dvs_id"] == "dvs-40"
    assert variables["vmware_nsxv_manager_uri"] == "https://nsx.example.local"


def test_unknown_variables_and_misplaced_passwords_are_reported():
    bundle = render(spec_of())
    bundle["globals.yml"] += "vmware_vcenter_hostname: vc\nvmware_vcenter_host_password: x\n"
    problems = check_bundle(bundle)
    assert len(problems) == 2
    assert "'vmware_vcenter_hostname'" in problems[0] and "does not define" in problems[0]
    assert "'vmware_vcenter_host_password'" in problems[1] and "passwords.yml" in problems[1]
    bundle["passwords.yml"] += "made_up_password: x\n"
    assert any("'made_up_password'" in p for p in check_bundle(bundle))


def test_missing_vcenter_ca_is_reported():
    assert any("config/vmware_ca" in p for p in check_bundle(render(spec_of(), vcenter_ca_pem="")))


def test_passwords_are_complete_and_spec_secrets_stay_in_passwords_yml(mode):
    ldap = {"url": "ldaps://ad.example.local:636", "bind_user": "CN=svc,DC=example,DC=local",
            "bind_password": "Ldap-Bind-Secret-9", "user_tree_dn": "DC=example,DC=local"}
    spec = spec_of(mode, keystone={"admin_password": "Secret-Admin-1", "backend": "ldap", "ldap": ldap})
    bundle = render(spec)
    passwords = yaml.safe_load(bundle["passwords.yml"])
    assert set(KOLLA_PASSWORD_KEYS) == known_passwords() <= set(passwords)
    assert passwords["keystone_admin_password"] == "Secret-Admin-1"
    assert passwords["vmware_vcenter_host_password"] == "Vc-Secret-77"
    assert passwords["keystone_ldap_bind_password"] == "Ldap-Bind-Secret-9"
    if mode == "nsx":
        assert passwords["vmware_nsxv_password"] == "Nsx-Secret-88"
    else:
        assert passwords["vmware_dvs_host_password"] == "Vc-Secret-77"
    assert passwords["nova_ssh_key"]["public_key"].startswith("ssh-ed25519 ")
    assert len(passwords["database_password"]) == 40 and passwords["database_password"].isalnum()
    assert passwords["docker_registry_password"] is None
    assert check_bundle(bundle) == []
    for secret in ("Secret-Admin-1", "Vc-Secret-77", "Nsx-Secret-88", "Ldap-Bind-Secret-9", SECRETS["master_key"]):
        leaks = [path for path, text in bundle.items() if path != "passwords.yml" and secret in text]
        assert leaks == [], f"{secret} leaked into {leaks}"
    domain = ini(bundle["config/keystone/domains/keystone.ldap.conf"])
    # kolla fills it in from passwords.yml, encoded for oslo.config (tests/test_hostile_values.py reads it back)
    assert domain["ldap"]["password"] == "\"{{ keystone_ldap_bind_password | replace('$', '$$') }}\""


def test_the_ssh_key_is_a_valid_openssh_key():
    from cryptography.hazmat.primitives import serialization

    key = yaml.safe_load(render(spec_of())["passwords.yml"])["keystone_ssh_key"]
    private = serialization.load_ssh_private_key(key["private_key"].encode(), password=None)
    public = private.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    assert key["public_key"].startswith(public.decode())


def test_one_nova_compute_per_cluster_with_its_datastores():
    spec = spec_of()
    bundle = render(spec)
    compute_vms = [vm.name for vm in build_plan(spec).vms if vm.role == "compute"]
    assert len(compute_vms) == 2
    first, second = (ini(bundle[f"config/nova/{name}/nova.conf"])["vmware"] for name in compute_vms)
    # as written: oslo.config reads "$$" as "$" (tests/test_hostile_values.py reads the files as oslo.config does)
    assert (first["cluster_name"], first["datastore_regex"]) == ("Compute-A", r"^(vio\-compute\-nfs)$$")
    assert (second["cluster_name"], second["datastore_regex"]) == ("Compute-B", "^gold-.*")
    assert first["host_ip"] == "vc.example.local"


def test_glance_and_cinder_use_the_vcenter_and_datastores():
    bundle = render(spec_of())
    glance = ini(bundle["config/glance/glance-api.conf"])["vmware"]
    assert glance["vmware_server_host"] == "vc.example.local"
    assert glance["vmware_datastores"] == "VIO-Datacenter:vio-shared-nfs"
    assert glance["vmware_insecure"] == "false"
    text = bundle["config/cinder/cinder-volume.conf"]
    cinder = ini(text)["vmwarevc-vmdk"]
    assert cinder["vmware_host_ip"] == "vc.example.local"
    assert "vio\\-compute\\-nfs" in cinder["vmware_datastore_regex"] and "gold-" in cinder["vmware_datastore_regex"]
    assert "vmware_cluster_name = Compute-A\nvmware_cluster_name = Compute-B\n" in text  # MultiStrOpt
    assert bundle["config/vmware_ca"] == CA


def test_rendering_is_deterministic_and_keyed():
    spec = spec_of("nsx")
    assert render(spec) == render(spec)
    other = render_bundle(spec, build_plan(spec), facts(), dict(SECRETS, master_key="another-key"))
    first, second = (yaml.safe_load(b["passwords.yml"]) for b in (render(spec), other))
    assert first["database_password"] != second["database_password"]
    assert first["keystone_admin_password"] == second["keystone_admin_password"]


def inventory_groups(text):
    groups, current = {}, None
    for line in text.splitlines():
        if line.startswith("["):
            current = line.strip("[]")
            groups[current] = []
        elif line and not line.startswith("#") and current:
            groups[current].append(line.split())
    return groups


def test_the_inventory_places_every_vm_with_its_address(mode):
    spec = spec_of(mode)
    plan = build_plan(spec)
    groups = inventory_groups(render(spec)["inventory/multinode"])
    expected = {"controller": "control", "lb": "loadbalancer", "db": "mariadb", "memcache": "rabbitmq",
                "swift": "storage", "compute": "compute", "dhcp": "network"}
    for vm in plan.vms:
        group = groups[expected[vm.role]]
        assert [vm.name, f"ansible_host={vm.management_ip}"] in group, (vm.name, expected[vm.role])
    memcache = [vm.name for vm in plan.vms if vm.role == "memcache"]
    assert [row[0] for row in groups["memcached"]] == memcache
    assert groups["deployment"] == [["localhost", "ansible_connection=local"]]
    assert ["loadbalancer"] in groups["common:children"] and ["mariadb"] in groups["baremetal:children"]
    if mode == "nsx":
        assert groups["network"] == [] and ["compute"] in groups["openvswitch:children"]  # OVS is off for NSX
    else:
        assert groups["openvswitch:children"] == [["network"]]
    # every group of kolla's multinode inventory is there
    for group in multinode_children():
        assert f"{group}:children" in groups or group in groups, group


def test_the_embedded_group_layout_matches_the_installed_kolla():
    assert MULTINODE_CHILDREN == multinode_children()


def test_compact_topology_renders_and_checks():
    spec = spec_of(topology="compact")
    bundle = render(spec)
    assert check_bundle(bundle) == []
    control = next(vm for vm in build_plan(spec).vms if vm.role == "control")
    variables = yaml.safe_load(bundle["globals.yml"])
    assert variables["enable_haproxy"] == "no" and variables["kolla_internal_vip_address"] == control.management_ip


def test_unknown_names_are_clear_errors():
    with pytest.raises(KollaBundleError, match="cluster 'Compute-B'"):
        render(spec_of(), cluster_moids={"Compute-A": "domain-c9"})
    with pytest.raises(KollaBundleError, match="port group 'VIO-External'"):
        render(spec_of("nsx"), network_moids={})


@pytest.mark.django_db
def test_facts_from_the_synced_simulator_inventory(vcsim):
    from inventory import models as m

    vcenter = registered_vcenter(vcsim)
    spec = DeploymentSpec.model_validate(valid_spec(vcsim))
    found = facts_from_inventory(spec, vcenter.pk, vcenter_ca_pem=CA)
    datacenter = m.Datacenter.objects.get(vcenter=vcenter, name=spec.datacenter)
    assert found.datacenter_moid == datacenter.moid
    assert found.vcenter_username == vcenter.username
    for cluster in spec.compute_clusters:
        assert found.cluster_moids[cluster.cluster] == m.Cluster.objects.get(vcenter=vcenter, name=cluster.cluster).moid
    for name in [spec.glance_datastore, *spec.compute_clusters[0].datastores]:
        assert found.datastore_moids[name] == m.Datastore.objects.get(vcenter=vcenter, name=name).moid
    switch = m.DistributedSwitch.objects.get(vcenter=vcenter, name=spec.neutron.dvs.switch)
    assert found.switch_moids[switch.name] == switch.moid
    trunk = m.Network.objects.get(vcenter=vcenter, name=spec.neutron.dvs.trunk_portgroup)
    assert found.network_moids[trunk.name] == trunk.moid
    bundle = render_bundle(spec, build_plan(spec), found, SECRETS)
    assert check_bundle(bundle) == []
    assert yaml.safe_load(bundle["globals.yml"])["vmware_vcenter_host_username"] == vcenter.username
