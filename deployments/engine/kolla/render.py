"""spec + plan + facts + secrets -> the kolla-ansible 2025.1 bundle (relative path -> text). Pure and deterministic.

Layout (paths relative to /etc/kolla on the deployment host):
  inventory/multinode, globals.yml, passwords.yml,
  config/nova/<compute VM>/nova.conf   one nova-compute per compute cluster (kolla merges it over nova.conf)
  config/glance/glance-api.conf        the multistore backend section [vmware]
  config/cinder/cinder-volume.conf     the [vmwarevc-vmdk] backend
  config/neutron/nsx.ini               [nsxv] or [dvs] TLS settings
  config/vmware_ca, certificates/ca/*  the CA nova-compute / every container trusts for vCenter, NSX, LDAP
  config/keystone/domains/…            LDAP (Active Directory) domain, when the backend is LDAP
  config/fluentd/output/…              forwarding to the syslog server, when one is given
"""

import hashlib
import re

from deployments.engine.kolla.encode import MERGED, TEMPLATED, Password, checked, ini, yaml_document
from deployments.engine.kolla.facts import KollaBundleError, KollaFacts
from deployments.engine.kolla.groups import MULTINODE_CHILDREN
from deployments.engine.kolla.passwords import GIVEN_KEYS, generate_passwords
from deployments.spec.patterns import scoped
from deployments.spec.text import pem_reencoded

OPENSTACK_RELEASE = "2025.1"
BASE_DISTRO = "ubuntu"
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"  # where kolla_copy_ca_into_containers lands (Ubuntu images)
CINDER_BACKEND = "vmwarevc-vmdk"  # kolla's cinder_backend_vmwarevc_vmdk_name
GLANCE_BACKEND = "vmware"  # kolla's glance_backends entry name for the vmware store
GLANCE_IMAGE_DIR = "/openstack_glance"
LDAP_DOMAIN = "ldap"
HEADER = "# Rendered by VIO Manager for deployment '{name}'. Do not edit: re-render from the deployment spec.\n"

# Plan role -> the kolla groups its VMs are put in directly ([group] with hosts, not [group:children]).
TOP_LEVEL = ("control", "network", "compute", "monitoring", "storage", "deployment")
HA_GROUPS = {
    "controller": ("control",),
    "lb": ("loadbalancer",),
    "db": ("mariadb",),
    "memcache": ("memcached", "rabbitmq"),
    # kolla-ansible 2025.1 has no Swift role any more: the object-storage VM of the VIO topology
    # carries kolla's storage group (cinder-volume with the VMDK driver) instead.
    "swift": ("storage",),
    "compute": ("compute",),
    "dhcp": ("network",),
}
COMPACT_GROUPS = {
    "control": ("control", "network", "storage", "loadbalancer", "mariadb", "memcached", "rabbitmq"),
    "compute": ("compute",),
}


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _escape(name: str) -> str:
    """re.escape, with "$" as "[$]": oslo.config reads "\\$" as "$" (its own escape), whatever the quoting."""
    return "".join("[$]" if char == "$" else re.escape(char) for char in name)


def datastore_regex(cluster) -> str:
    """The cluster's regex, or one matching exactly its chosen datastores."""
    if cluster.datastore_regex:
        return cluster.datastore_regex
    return "^(" + "|".join(_escape(name) for name in cluster.datastores) + ")$"


def compute_hosts(spec, plan) -> list[tuple[str, object]]:
    """(compute VM name, compute cluster spec), in the plan's order: compute VM i serves compute cluster i."""
    vms = [vm for vm in plan.vms if vm.role == "compute"]
    if len(vms) != len(spec.compute_clusters):
        raise KollaBundleError(f"the plan has {len(vms)} compute VMs for {len(spec.compute_clusters)} compute clusters")
    return [(vm.name, cluster) for vm, cluster in zip(vms, spec.compute_clusters)]


def render_inventory(spec, plan) -> str:
    mapping = COMPACT_GROUPS if spec.topology == "compact" else HA_GROUPS
    hosts: dict[str, list[str]] = {}
    lines = [HEADER.format(name=spec.name).rstrip(), "# kolla-ansible 2025.1 multinode layout; VM names as in the plan.", ""]
    for vm in plan.vms:
        for group in mapping.get(vm.role, ()):
            hosts.setdefault(group, []).append(vm.name)
    for group in TOP_LEVEL:
        lines.append(f"[{group}]")
        if group == "deployment":
            lines.append("localhost ansible_connection=local")
        for name in hosts.pop(group, []):
            vm = next(v for v in plan.vms if v.name == name)
            lines.append(f"{name} ansible_host={vm.management_ip}")
        lines.append("")
    address = {vm.name: vm.management_ip for vm in plan.vms}
    placed = [group for group in hosts if group in MULTINODE_CHILDREN]  # service groups holding hosts directly
    for group, children in MULTINODE_CHILDREN.items():
        if group in hosts:
            lines.append(f"[{group}]")
            lines += [f"{name} ansible_host={address[name]}" for name in hosts.pop(group)]
        elif group in ("baremetal", "common"):  # container engine, fluentd, cron, kolla-toolbox on every VM
            lines.append(f"[{group}:children]")
            lines += list(children) + [g for g in placed if g not in children]
        elif group == "openvswitch" and spec.neutron.mode == "dvs":
            lines += [f"[{group}:children]", "network"]  # br-dvs for the DHCP agent; nova-compute (vmware) needs no OVS
        else:
            lines.append(f"[{group}:children]")
            lines += list(children)
        lines.append("")
    if hosts:  # a group the plan uses that kolla's multinode does not have
        raise KollaBundleError(f"kolla's multinode inventory has no group {sorted(hosts)}")
    return "\n".join(lines)


def _vip_router_id(name: str) -> int:
    """keepalived's VRRP id (1-255), per deployment, so that two clouds on one network do not collide."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:2], "big") % 254 + 1


def render_globals(spec, plan, facts: KollaFacts) -> dict:
    ha = spec.topology == "ha"
    control = next((vm for vm in plan.vms if vm.role == "control"), None)
    first = spec.compute_clusters[0]
    g: dict[str, object] = {
        "kolla_base_distro": BASE_DISTRO,
        "openstack_release": OPENSTACK_RELEASE,
        "kolla_internal_vip_address": plan.internal_vip if ha else control.management_ip,
        "kolla_external_vip_address": plan.public_vip if ha else (control.external_ip or plan.public_vip),
        "kolla_external_fqdn": spec.load_balancer.public_hostname,
        "network_interface": facts.management_interface,
        "kolla_external_vip_interface": facts.external_interface,
        "enable_haproxy": _yes(ha),
        "keepalived_virtual_router_id": str(_vip_router_id(spec.name)),
        "kolla_copy_ca_into_containers": _yes(bool(facts.vcenter_ca_pem or facts.nsx_ca_pem or facts.ldap_ca_pem)),
        "enable_cinder": "yes",
        "enable_heat": "yes",
        "enable_horizon": "yes",
        "enable_openvswitch": _yes(spec.neutron.mode == "dvs"),
        # nova-compute with the vmware driver, one per compute cluster (per-host overrides name the others)
        "nova_compute_virt_type": "vmware",
        "vmware_vcenter_host_ip": spec.vcenter.host,
        "vmware_vcenter_host_username": facts.vcenter_username,
        "vmware_vcenter_cluster_name": first.cluster,
        "vmware_vcenter_datastore_regex": datastore_regex(first),
        "vmware_vcenter_insecure": "False",
        # glance vmware store: <datacenter path>:<datastore>
        "glance_backend_vmware": "yes",
        "vmware_vcenter_name": spec.datacenter,
        "vmware_datastore_name": spec.glance_datastore,
        "cinder_backend_vmwarevc_vmdk": "yes",
    }
    if spec.neutron.mode == "dvs":
        g.update({"neutron_plugin_agent": "vmware_dvs",
                  "neutron_external_interface": facts.external_interface,  # the DHCP nodes' NIC on the data trunk
                  "vmware_dvs_insecure": "False", **_dvs_settings(spec, facts)})
    else:
        g.update({"neutron_plugin_agent": "vmware_nsxv", "vmware_nsxv_insecure": "False",
                  **_nsxv_settings(spec, facts)})
    if spec.syslog is not None:
        g.update({"enable_fluentd": "yes", "enable_central_logging": "no"})
    return g


def _dvs_settings(spec, facts: KollaFacts) -> dict[str, str]:
    """kolla's vmware_dvs_* variables that carry a value of the spec or the inventory (nsx.ini.j2's [dvs])."""
    facts.moid("distributed switch", spec.neutron.dvs.switch)
    return {"vmware_dvs_host_ip": spec.vcenter.host, "vmware_dvs_host_port": str(spec.vcenter.port),
            "vmware_dvs_host_username": facts.vcenter_username, "vmware_dvs_dvs_name": spec.neutron.dvs.switch}


def _nsxv_settings(spec, facts: KollaFacts) -> dict[str, str]:
    """kolla's vmware_nsxv_* variables that carry a value of the spec or the inventory (nsx.ini.j2's [nsxv])."""
    nsx = spec.neutron.nsx
    port = "" if nsx.manager.port == 443 else f":{nsx.manager.port}"
    host = f"[{nsx.manager.host}]" if ":" in nsx.manager.host else nsx.manager.host
    if not facts.transport_zone_id:
        raise KollaBundleError(f"transport zone '{nsx.transport_zone}' is not known: sync the NSX Manager")
    return {
        "vmware_nsxv_user": facts.nsx_username,
        "vmware_nsxv_manager_uri": f"https://{host}{port}",
        "vmware_nsxv_cluster_moid": ",".join(facts.moid("cluster", c.cluster) for c in spec.compute_clusters),
        "vmware_nsxv_datacenter_moid": facts.datacenter_moid,
        "vmware_nsxv_resource_pool_id": facts.moid("resource pool of cluster", nsx.edge_cluster),
        "vmware_nsxv_datastore_id": facts.edge_datastore_moid or facts.moid("datastore", spec.management_datastores[0]),
        "vmware_nsxv_external_network": facts.moid("port group", nsx.external_portgroup),
        "vmware_nsxv_vdn_scope_id": facts.transport_zone_id,
        "vmware_nsxv_dvs_id": facts.moid("distributed switch", nsx.vds),
        "vmware_nsxv_edge_ha": "true" if spec.topology == "ha" else "false",
    }


def _ca_settings(facts: KollaFacts, pem: str) -> list[tuple[str, object]]:
    return [("vmware_insecure", "false"), ("vmware_ca_file", SYSTEM_CA_BUNDLE)] if pem else [("vmware_insecure", "false")]


def render_overrides(spec, plan, facts: KollaFacts) -> dict[str, str]:
    """The override files. Each sets again every option of its section that kolla's own template fills in
    from a value of the spec, the inventory or passwords.yml (kolla writes those raw): merged over kolla's
    file, the service reads our encoded value, whatever the text."""
    files: dict[str, str] = {}
    header = HEADER.format(name=spec.name)
    vc_port = spec.vcenter.port
    vc_host = f"[{spec.vcenter.host}]" if ":" in spec.vcenter.host else spec.vcenter.host
    vcenter_login = [("host_username", facts.vcenter_username), ("host_password", Password("vmware_vcenter_host_password"))]
    for host, cluster in compute_hosts(spec, plan):
        facts.moid("cluster", cluster.cluster)
        files[f"config/nova/{host}/nova.conf"] = header + ini([("vmware", [
            ("host_ip", spec.vcenter.host), ("host_port", vc_port), *vcenter_login, ("cluster_name", cluster.cluster),
            ("datastore_regex", datastore_regex(cluster))])], passes=MERGED)
    facts.moid("datastore", spec.glance_datastore)
    files["config/glance/glance-api.conf"] = header + ini([(GLANCE_BACKEND, [
        ("vmware_server_host", spec.vcenter.host if vc_port == 443 else f"{vc_host}:{vc_port}"),
        ("vmware_server_username", facts.vcenter_username),
        ("vmware_server_password", Password("vmware_vcenter_host_password")),
        ("vmware_datastores", f"{spec.datacenter}:{spec.glance_datastore}"),
        ("vmware_store_image_dir", GLANCE_IMAGE_DIR), *_ca_settings(facts, facts.vcenter_ca_pem)])], passes=MERGED)
    files["config/cinder/cinder-volume.conf"] = header + ini([(CINDER_BACKEND, [
        ("volume_backend_name", CINDER_BACKEND),
        ("vmware_host_ip", spec.vcenter.host), ("vmware_host_port", vc_port),
        ("vmware_host_username", facts.vcenter_username),
        ("vmware_host_password", Password("vmware_vcenter_host_password")),
        ("vmware_cluster_name", [c.cluster for c in spec.compute_clusters]),
        ("vmware_datastore_regex", "|".join(scoped(datastore_regex(c)) for c in spec.compute_clusters)
         if len(spec.compute_clusters) > 1 else datastore_regex(spec.compute_clusters[0])),
        ("vmware_volume_folder", f"OpenStack/{spec.name}/Volumes"), *_ca_settings(facts, facts.vcenter_ca_pem)])],
        passes=MERGED)
    if spec.neutron.mode == "dvs":
        settings = [(name.removeprefix("vmware_dvs_"), value) for name, value in _dvs_settings(spec, facts).items()]
        files["config/neutron/nsx.ini"] = header + ini([("dvs", [("insecure", "false")] + (
            [("ca_file", SYSTEM_CA_BUNDLE)] if facts.vcenter_ca_pem else []) + settings
            + [("host_password", Password("vmware_dvs_host_password"))])], passes=MERGED)
    else:
        settings = [(name.removeprefix("vmware_nsxv_"), value) for name, value in _nsxv_settings(spec, facts).items()]
        files["config/neutron/nsx.ini"] = header + ini([("nsxv", [("insecure", "false")] + (
            [("ca_file", SYSTEM_CA_BUNDLE)] if facts.nsx_ca_pem else []) + settings
            + [("password", Password("vmware_nsxv_password"))])], passes=MERGED)
    if facts.vcenter_ca_pem:
        files["config/vmware_ca"] = facts.vcenter_ca_pem  # nova-compute's /etc/nova/vmware_ca
        files["certificates/ca/vio-vcenter.crt"] = facts.vcenter_ca_pem
    if facts.nsx_ca_pem and spec.neutron.mode == "nsx":
        files["certificates/ca/vio-nsx.crt"] = facts.nsx_ca_pem
    if spec.keystone.backend == "ldap":
        files.update(_ldap_domain(spec, facts, header))
    if spec.syslog is not None:
        files["config/fluentd/output/02-vio-syslog.conf"] = _syslog(spec)
    return files


def _ldap_domain(spec, facts: KollaFacts, header: str) -> dict[str, str]:
    ldap = spec.keystone.ldap
    options: list[tuple[str, object]] = [
        ("url", ldap.url), ("user", ldap.bind_user),
        ("password", Password("keystone_ldap_bind_password")),  # kolla templates domain files; the value is in passwords.yml
        ("user_tree_dn", ldap.user_tree_dn), ("query_scope", "sub"), ("user_objectclass", "person"),
        ("user_id_attribute", "cn"), ("user_name_attribute", "sAMAccountName"), ("user_mail_attribute", "mail"),
        ("user_enabled_attribute", "userAccountControl"), ("user_enabled_mask", "2"), ("user_enabled_default", "512"),
    ]
    if ldap.user_filter:
        options.append(("user_filter", ldap.user_filter))
    if ldap.url.startswith("ldaps://"):
        options += [("tls_req_cert", "demand"), ("tls_cacertfile", SYSTEM_CA_BUNDLE)]
    files = {f"config/keystone/domains/keystone.{LDAP_DOMAIN}.conf": header + ini(
        [("identity", [("driver", "ldap")]), ("ldap", options)], passes=TEMPLATED)}
    if ldap.ca_certificate:
        files["certificates/ca/vio-ldap.crt"] = pem_reencoded(ldap.ca_certificate)  # the parsed certificates only
    return files


def _syslog(spec) -> str:
    s = spec.syslog
    checked(s.host, "syslog.host")  # a host name (spec): fluentd's format needs no quoting for it
    return (HEADER.format(name=spec.name) + "# Everything not matched by kolla's local syslog outputs goes to the syslog server.\n"
            "<match **>\n  @type remote_syslog\n"
            f"  host {s.host}\n  port {s.port}\n  protocol {s.protocol}\n"
            f"  program openstack-{spec.name}\n  severity info\n"
            "  <format>\n    @type single_value\n    message_key Payload\n  </format>\n</match>\n")


def render_passwords(spec, secrets: dict) -> dict:
    given = {key: secrets[key] for key in GIVEN_KEYS if secrets.get(key)}
    given.setdefault("keystone_admin_password", spec.keystone.admin_password.get_secret_value())
    if spec.keystone.backend == "ldap":
        given["keystone_ldap_bind_password"] = spec.keystone.ldap.bind_password.get_secret_value()
    if spec.neutron.mode == "dvs" and given.get("vmware_vcenter_host_password"):
        given.setdefault("vmware_dvs_host_password", given["vmware_vcenter_host_password"])
    for key, value in given.items():  # Ansible reads them as variables and kolla writes them into INI files
        checked(value, f"the password {key}")
    return generate_passwords(secrets.get("master_key", ""), given)


def render_bundle(spec, plan, facts: KollaFacts, secrets: dict) -> dict[str, str]:
    """The bundle for `spec`/`plan`. `secrets`: "master_key" (random, kept with the deployment; the same key
    renders the same bundle), "vmware_vcenter_host_password", "vmware_nsxv_password" (NSX mode) and optionally
    "keystone_admin_password" (default: the spec's)."""
    globals_yml = render_globals(spec, plan, facts)
    bundle = {
        "inventory/multinode": render_inventory(spec, plan),
        "globals.yml": HEADER.format(name=spec.name) + "---\n" + yaml_document(globals_yml),
        # generated SSH private keys span lines: the given passwords were checked in render_passwords
        "passwords.yml": "---\n" + yaml_document(render_passwords(spec, secrets), check=False),
    }
    bundle.update(render_overrides(spec, plan, facts))
    return dict(sorted(bundle.items()))
