"""Hostile values never change the structure of a generated file.

A spec, inventory facts and passwords full of hostile text are rendered into the whole kolla bundle, and
every file is read back the way its consumers read it:
- override INI files as kolla-ansible and the service do: Jinja2 (kolla templates every source, with
  passwords.yml as variables), kolla's own merge_configs parser writing the merged file out again, then
  oslo.config (its iniparser, then its $-substitution) for the value the service sees;
- Keystone's domain file: Jinja2, then oslo.config;
- globals.yml and passwords.yml with PyYAML; the inventory with Ansible's own inventory parser; the CA files
  with cryptography.
Every key must hold exactly the intended value and no other key may exist. The values the spec refuses
(line breaks, controls, Jinja2, malformed LDAP URLs and filters, overlong text) are refused with the
field's path, what is wrong and how to fix it."""

import datetime
import importlib.util
import sys
from pathlib import Path

import jinja2
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from oslo_config import cfg, iniparser

from deployments.engine.kolla import KollaBundleError, KollaFacts, check_bundle, render_bundle
from deployments.engine.kolla.check import kolla_share
from deployments.engine.kolla.render import datastore_regex, render_globals, render_passwords
from deployments.plan import build_plan
from deployments.spec import parse
from deployments.spec.model import DeploymentSpec
from testkit.spec import valid_spec


class VC:
    host, port = "vc.example.local", 443


class NSX:
    host, port = "nsx.example.local", 8443


def certificate_pem(name: str = "Hostile CA") -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


CA = certificate_pem()
# Accepted by the spec, and each a way to break an INI, YAML or Jinja2 reader that does not encode.
LONG = ("$[x]#;=%(y)s'\"" * 30)[:255]
HOSTILE = {
    "cluster": "$(reboot) ${HOME} $my_ip %(here)s [vmware] insecure = true # ; 'q\" \\",
    "cluster_b": '"Compute B"',  # quoted: oslo's reader would take the quotes off
    "datastore": "ds $x [dvs] = #1 ; 'x'",
    "datastore_b": "'",
    "regex": r"^[$#;=%'\"]gold\[x\]-\d+ (a|b)=[$]$",
    "datacenter": "DC = [glance] $host_ip \u00a0Ω 日本 \"x",
    "glance_datastore": LONG,
    "switch": "#DSwitch ;x = y $$",
    "bind_user": "CN=svc $user\\, #1,OU=[ldap],DC=example,DC=com",
    "user_tree_dn": "OU=%(users)s;x,DC=example,DC=com '",
    "user_filter": "(&(objectClass=user)(description=$HOME %\\28x\\29s [ldap] url = ldap://evil #;\"')(cn=a\\2a*b))",
}
# Not from the spec (no stripping there): inventory facts and passwords with white space at both ends.
FACTS_USER = '  svc$admin "x" #; '
PASSWORDS = {"master_key": "m" * 43, "vmware_vcenter_host_password": ' Vc$pw "#;[x] = y ',
             "vmware_nsxv_password": "'Nsx $(id)'"}
ADMIN_PASSWORD = "$(reboot) %(x)s \"q'"
BIND_PASSWORD = '"Bind $HOME pw"'


def hostile_spec(mode: str) -> DeploymentSpec:
    data = valid_spec(VC, mode=mode, nsxv=NSX)
    data["compute_clusters"] = [{"cluster": HOSTILE["cluster"], "datastores": [HOSTILE["datastore"], HOSTILE["datastore_b"]]},
                                {"cluster": HOSTILE["cluster_b"], "datastore_regex": HOSTILE["regex"]}]
    data["datacenter"] = HOSTILE["datacenter"]
    data["glance_datastore"] = HOSTILE["glance_datastore"]
    data["management_datastores"] = [HOSTILE["glance_datastore"]]
    if mode == "dvs":
        data["neutron"]["dvs"]["switch"] = HOSTILE["switch"]
    else:
        data["neutron"]["nsx"].update(edge_cluster=HOSTILE["cluster_b"], vds=HOSTILE["switch"],
                                      external_portgroup=HOSTILE["datastore"])
    data["keystone"] = {"admin_password": ADMIN_PASSWORD, "backend": "ldap", "ldap": {
        "url": "ldaps://ad.example.com:636", "bind_user": HOSTILE["bind_user"], "bind_password": BIND_PASSWORD,
        "user_tree_dn": HOSTILE["user_tree_dn"], "user_filter": HOSTILE["user_filter"], "ca_certificate": CA}}
    spec, issues = parse(data)
    assert spec is not None, issues
    return spec


def hostile_facts() -> KollaFacts:
    return KollaFacts(
        vcenter_username=FACTS_USER, datacenter_moid="datacenter-2",
        cluster_moids={HOSTILE["cluster"]: "domain-c9", HOSTILE["cluster_b"]: "domain-c11"},
        cluster_resource_pools={HOSTILE["cluster_b"]: "resgroup-14"},
        datastore_moids={HOSTILE["glance_datastore"]: "datastore-20", HOSTILE["datastore"]: "datastore-21"},
        network_moids={HOSTILE["datastore"]: "dvportgroup-30"}, switch_moids={HOSTILE["switch"]: "dvs-40"},
        vcenter_ca_pem=CA, nsx_username="'admin'", nsx_ca_pem=CA, transport_zone_id="vdnscope-1")


# --- the readers ------------------------------------------------------------------------------------


def _merge_configs():
    """kolla-ansible's own merge_configs action plugin (the installed 20.x), for its OverrideConfigParser."""
    path = kolla_share() / "ansible" / "action_plugins" / "merge_configs.py"
    spec = importlib.util.spec_from_file_location("kolla_merge_configs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MERGE_CONFIGS = _merge_configs()


class _Structure(iniparser.BaseParser):
    """oslo.config's iniparser, keeping every section, key and value in order (repeated keys too)."""

    def __init__(self):
        self.sections: dict[str, dict[str, list[str]]] = {}
        self.current = None

    def new_section(self, section):
        self.current = self.sections.setdefault(section, {})

    def assignment(self, key, value):
        assert self.current is not None, f"{key} outside a section"
        self.current.setdefault(key, []).append("\n".join(value))


def jinja(text: str, variables: dict) -> str:
    """What Ansible's templating makes of a file: the variables filled in, an undefined one an error."""
    return jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True).from_string(text).render(variables)


def kolla_merge(text: str) -> str:
    """kolla's merge_configs: parse (oslo's iniparser) and write the merged file out again."""
    parser = MERGE_CONFIGS.OverrideConfigParser()
    parser.parse(iter(text.splitlines(keepends=True)))
    out = MERGE_CONFIGS.StringIO()
    parser.write(out)
    return out.getvalue()


def oslo_read(text: str, tmp_path: Path) -> dict[str, dict[str, object]]:
    """The values a service reads with oslo.config: every key of the file registered as an option
    (MultiStrOpt when repeated), then read, $-substitution included."""
    structure = _Structure()
    structure.parse(iter(text.splitlines()))
    path = tmp_path / "service.conf"
    path.write_text(text, encoding="utf-8")
    conf = cfg.ConfigOpts()
    for section, keys in structure.sections.items():
        conf.register_opts([cfg.MultiStrOpt(key) if len(values) > 1 else cfg.StrOpt(key) for key, values in keys.items()],
                           group=section)
    conf(args=[], default_config_files=[str(path)], use_env=False)
    return {section: {key: conf[section][key] for key in keys} for section, keys in structure.sections.items()}


class Checked:
    def __init__(self):
        self.keys = 0
        self.by_file: dict[str, int] = {}

    def same(self, found: dict, expected: dict, where: str, *, file: str | None = None) -> None:
        """`found` must hold exactly the keys of `expected`, each with exactly its value."""
        file = file or where
        assert set(found) == set(expected), f"{where}: keys {sorted(map(str, set(found) ^ set(expected)))} differ"
        for key, value in expected.items():
            if isinstance(value, dict):
                self.same(found[key], value, f"{where} [{key}]", file=file)
            else:
                assert found[key] == value, f"{where} {key}: {found[key]!r} != {value!r}"
                self.keys += 1
                self.by_file[file] = self.by_file.get(file, 0) + 1


def ini_as_service_reads_it(text: str, passwords: dict, tmp_path: Path, *, merged: bool) -> dict:
    rendered = jinja(text, passwords)
    return oslo_read(kolla_merge(rendered) if merged else rendered, tmp_path)


# --- the test ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["dvs", "nsx"])
def test_a_hostile_spec_renders_into_files_that_read_back_exactly(mode, tmp_path, capsys):
    spec, facts = hostile_spec(mode), hostile_facts()
    plan = build_plan(spec)
    bundle = render_bundle(spec, plan, facts, PASSWORDS)
    assert check_bundle(bundle) == []
    check = Checked()

    # YAML: exactly the renderer's variables, the hostile ones being the spec's text
    variables = yaml.safe_load(bundle["globals.yml"])
    check.same(variables, render_globals(spec, plan, facts), "globals.yml")
    assert variables["vmware_vcenter_cluster_name"] == HOSTILE["cluster"]
    assert variables["vmware_vcenter_name"] == HOSTILE["datacenter"]
    assert variables["vmware_vcenter_host_username"] == FACTS_USER
    passwords = yaml.safe_load(bundle["passwords.yml"])
    check.same(passwords, render_passwords(spec, PASSWORDS), "passwords.yml")
    assert passwords["keystone_admin_password"] == ADMIN_PASSWORD
    assert passwords["keystone_ldap_bind_password"] == BIND_PASSWORD
    assert passwords["vmware_vcenter_host_password"] == PASSWORDS["vmware_vcenter_host_password"]

    # INI as nova-compute, glance, cinder-volume, neutron and keystone read them
    vc_password = PASSWORDS["vmware_vcenter_host_password"]
    computes = [vm.name for vm in plan.vms if vm.role == "compute"]
    for name, cluster in zip(computes, spec.compute_clusters):
        found = ini_as_service_reads_it(bundle[f"config/nova/{name}/nova.conf"], passwords, tmp_path, merged=True)
        check.same(found, {"vmware": {
            "host_ip": VC.host, "host_port": "443", "host_username": FACTS_USER, "host_password": vc_password,
            "cluster_name": cluster.cluster, "datastore_regex": datastore_regex(cluster)}}, f"{name}/nova.conf")
    first, second = (ini_as_service_reads_it(bundle[f"config/nova/{name}/nova.conf"], passwords, tmp_path, merged=True)
                     ["vmware"] for name in computes)
    assert first["cluster_name"] == HOSTILE["cluster"] and second["cluster_name"] == HOSTILE["cluster_b"]
    assert second["datastore_regex"] == HOSTILE["regex"]
    import re

    assert re.match(first["datastore_regex"], HOSTILE["datastore"]) and re.match(first["datastore_regex"], "'")
    assert not re.match(first["datastore_regex"], HOSTILE["datastore"] + "x")

    found = ini_as_service_reads_it(bundle["config/glance/glance-api.conf"], passwords, tmp_path, merged=True)
    check.same(found, {"vmware": {
        "vmware_server_host": VC.host, "vmware_server_username": FACTS_USER, "vmware_server_password": vc_password,
        "vmware_datastores": f"{HOSTILE['datacenter']}:{HOSTILE['glance_datastore']}",
        "vmware_store_image_dir": "/openstack_glance", "vmware_insecure": "false",
        "vmware_ca_file": "/etc/ssl/certs/ca-certificates.crt"}}, "glance-api.conf")

    found = ini_as_service_reads_it(bundle["config/cinder/cinder-volume.conf"], passwords, tmp_path, merged=True)
    combined = found["vmwarevc-vmdk"]["vmware_datastore_regex"]
    check.same(found, {"vmwarevc-vmdk": {
        "volume_backend_name": "vmwarevc-vmdk", "vmware_host_ip": VC.host, "vmware_host_port": "443",
        "vmware_host_username": FACTS_USER, "vmware_host_password": vc_password,
        "vmware_cluster_name": [HOSTILE["cluster"], HOSTILE["cluster_b"]],
        "vmware_datastore_regex": f"(?:{datastore_regex(spec.compute_clusters[0])})|(?:{HOSTILE['regex']})",
        "vmware_volume_folder": "OpenStack/cloud1/Volumes", "vmware_insecure": "false",
        "vmware_ca_file": "/etc/ssl/certs/ca-certificates.crt"}}, "cinder-volume.conf")
    assert re.match(combined, HOSTILE["datastore_b"]) and re.match(combined, "'gold[x]-7 a=$")

    found = ini_as_service_reads_it(bundle["config/neutron/nsx.ini"], passwords, tmp_path, merged=True)
    if mode == "dvs":
        expected = {"dvs": {"insecure": "false", "ca_file": "/etc/ssl/certs/ca-certificates.crt", "host_ip": VC.host,
                            "host_port": "443", "host_username": FACTS_USER, "dvs_name": HOSTILE["switch"],
                            "host_password": vc_password}}
    else:
        expected = {"nsxv": {"insecure": "false", "ca_file": "/etc/ssl/certs/ca-certificates.crt", "user": "'admin'",
                             "manager_uri": "https://nsx.example.local:8443", "cluster_moid": "domain-c9,domain-c11",
                             "datacenter_moid": "datacenter-2", "resource_pool_id": "resgroup-14",
                             "datastore_id": "datastore-20", "external_network": "dvportgroup-30",
                             "vdn_scope_id": "vdnscope-1", "dvs_id": "dvs-40", "edge_ha": "true",
                             "password": PASSWORDS["vmware_nsxv_password"]}}
    check.same(found, expected, "nsx.ini")

    found = ini_as_service_reads_it(bundle["config/keystone/domains/keystone.ldap.conf"], passwords, tmp_path, merged=False)
    check.same(found, {"identity": {"driver": "ldap"}, "ldap": {
        "url": "ldaps://ad.example.com:636", "user": HOSTILE["bind_user"], "password": BIND_PASSWORD,
        "user_tree_dn": HOSTILE["user_tree_dn"], "query_scope": "sub", "user_objectclass": "person",
        "user_id_attribute": "cn", "user_name_attribute": "sAMAccountName", "user_mail_attribute": "mail",
        "user_enabled_attribute": "userAccountControl", "user_enabled_mask": "2", "user_enabled_default": "512",
        "user_filter": HOSTILE["user_filter"], "tls_req_cert": "demand",
        "tls_cacertfile": "/etc/ssl/certs/ca-certificates.crt"}}, "keystone.ldap.conf")

    # the inventory, with Ansible's parser: every planned VM at its address, nothing else
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    (tmp_path / "multinode").write_text(bundle["inventory/multinode"])
    inventory = InventoryManager(loader=DataLoader(), sources=[str(tmp_path / "multinode")])
    hosts = {host.name: host.vars.get("ansible_host") for host in inventory.get_hosts()}
    check.same(hosts, {"localhost": None, **{vm.name: vm.management_ip for vm in plan.vms}}, "inventory/multinode")

    # certificates: exactly the given CA (the LDAP one re-encoded from the parsed certificate)
    certificates = [path for path in bundle if path.startswith("certificates/") or path == "config/vmware_ca"]
    assert len(certificates) == {"dvs": 3, "nsx": 4}[mode]
    for path in certificates:
        assert [c.fingerprint(hashes.SHA256()) for c in x509.load_pem_x509_certificates(bundle[path].encode())] == \
               [x509.load_pem_x509_certificate(CA.encode()).fingerprint(hashes.SHA256())]
        check.keys += 1
        check.by_file[path] = 1

    # fluentd's output: its directives, one per line
    lines = [line.split(None, 1) for line in bundle["config/fluentd/output/02-vio-syslog.conf"].splitlines()
             if line.strip() and not line.lstrip().startswith(("#", "<"))]
    directives = {key: value for key, value in lines if key in ("host", "port", "protocol", "program")}
    check.same(directives, {"host": "localhost", "port": "514", "protocol": "udp", "program": "openstack-cloud1"}, "fluentd")

    assert check.keys > 150
    with capsys.disabled():
        files = ", ".join(f"{name.split('/')[-1]} {count}" for name, count in check.by_file.items())
        print(f"\nhostile values ({mode}): {check.keys} keys read back exactly from {len(bundle)} files ({files})")


def test_the_readers_catch_an_injected_line(tmp_path):
    """The round trip above would see what the security review found: a second host_ip or insecure."""
    spec, facts = hostile_spec("dvs"), hostile_facts()
    plan = build_plan(spec)
    bundle = render_bundle(spec, plan, facts, PASSWORDS)
    passwords = yaml.safe_load(bundle["passwords.yml"])
    name = next(vm.name for vm in plan.vms if vm.role == "compute")
    text = bundle[f"config/nova/{name}/nova.conf"]
    injected = text.replace("cluster_name = ", "cluster_name = x\nhost_ip = 203.0.113.66\ninsecure = true\nx = ", 1)
    found = ini_as_service_reads_it(injected, passwords, tmp_path, merged=True)
    assert found["vmware"]["host_ip"] == [VC.host, "203.0.113.66"] and found["vmware"]["insecure"] == "true"
    with pytest.raises(AssertionError, match="keys"):
        Checked().same(found, ini_as_service_reads_it(text, passwords, tmp_path, merged=True), "nova.conf")
    # and a value written raw (no $$, no quotes) does not read back as itself
    raw = text.replace("$$", "$")
    with pytest.raises(Exception):
        assert ini_as_service_reads_it(raw, passwords, tmp_path, merged=True) == \
               ini_as_service_reads_it(text, passwords, tmp_path, merged=True)


def test_the_renderer_refuses_what_it_cannot_encode():
    spec = hostile_spec("dvs")
    with pytest.raises(KollaBundleError, match="line break"):
        render_bundle(spec, build_plan(spec), hostile_facts(), dict(PASSWORDS, vmware_vcenter_host_password="a\ninsecure = true"))
    facts = hostile_facts()
    with pytest.raises(KollaBundleError, match="Jinja2"):
        render_bundle(spec, build_plan(spec), KollaFacts(**{**facts.__dict__, "vcenter_username": "{{ lookup('pipe', 'id') }}"}),
                      PASSWORDS)


# --- what the spec refuses ---------------------------------------------------------------------------

BAD_TEXT = {
    "newline": ("A\nhost_ip = 203.0.113.66", "line break"),
    "carriage return": ("A\rinsecure = true", "carriage return"),
    "NUL": ("A\x00B", "NUL"),
    "tab": ("A\tB", "tab"),
    "line separator": ("A\u2028insecure = true", "line separator"),
    "paragraph separator": ("A\u2029B", "paragraph separator"),
    "next line": ("A\x85B", "control character"),
    "bidi override": ("A\u202eB", "format character"),
    "jinja expression": ("{{ lookup('pipe', 'id') }}", "Jinja2"),
    "jinja statement": ("{% if true %}x{% endif %}", "Jinja2"),
    "jinja comment": ("a{# x #}", "Jinja2"),
    "very long": ("x" * 10_000, "too long"),
}
FIELDS = {  # path -> how to put a value there
    "compute_clusters.0.cluster": lambda d, v: d["compute_clusters"][0].__setitem__("cluster", v),
    "compute_clusters.0.datastores.0": lambda d, v: d["compute_clusters"][0].__setitem__("datastores", [v]),
    "compute_clusters.0.datastore_regex": lambda d, v: d["compute_clusters"].__setitem__(0, {"cluster": "C", "datastore_regex": v}),
    "datacenter": lambda d, v: d.__setitem__("datacenter", v),
    "glance_datastore": lambda d, v: d.__setitem__("glance_datastore", v),
    "neutron.dvs.switch": lambda d, v: d["neutron"]["dvs"].__setitem__("switch", v),
    "keystone.ldap.user_filter": lambda d, v: d["keystone"]["ldap"].__setitem__("user_filter", v),
    "keystone.ldap.bind_user": lambda d, v: d["keystone"]["ldap"].__setitem__("bind_user", v),
    "keystone.ldap.url": lambda d, v: d["keystone"]["ldap"].__setitem__("url", v),
    "keystone.admin_password": lambda d, v: d["keystone"].__setitem__("admin_password", v + "-long-enough"),
    "keystone.ldap.bind_password": lambda d, v: d["keystone"]["ldap"].__setitem__("bind_password", v),
    "vcenter.host": lambda d, v: d["vcenter"].__setitem__("host", v),
}


def ldap_spec() -> dict:
    data = valid_spec(VC)
    data["keystone"] = {"admin_password": "Secret-Admin-1", "backend": "ldap", "ldap": {
        "url": "ldap://ad.example.com", "bind_user": "CN=svc,DC=example,DC=com", "bind_password": "pw",
        "user_tree_dn": "DC=example,DC=com"}}
    return data


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("kind", BAD_TEXT)
def test_the_spec_refuses_text_that_could_change_a_file(field, kind):
    value, what = BAD_TEXT[kind]
    data = ldap_spec()
    FIELDS[field](data, value)
    spec, issues = parse(data)
    assert spec is None
    mine = [i for i in issues if i.path == field]
    assert mine, (field, kind, issues)
    message = mine[0].message
    assert what.lower() in message.lower(), message
    assert any(hint in message for hint in ("Remove", "Choose", "Shorten", "at most", "use ", "write")), message


@pytest.mark.parametrize("url,why", [
    ("ldap://a.example.com\nurl = ldap://evil", "line break"),
    ("ldap://evil.example.com/??sub?(cn=*)", "not an LDAP server URL"),
    ("ldaps://ad.example.com#x:636", "not a host name"),
    ("http://ad.example.com", "not an LDAP server URL"),
    ("ldap://ad.example.com:99999", "not a TCP port"),
    ("ldap://ad example.com", "not a host name"),
    ("ldap://[::1", "not an LDAP server URL"),
])
def test_ldap_urls_are_host_and_port_only(url, why):
    data = ldap_spec()
    data["keystone"]["ldap"]["url"] = url
    _, issues = parse(data)
    assert any(i.path == "keystone.ldap.url" and why in i.message for i in issues), issues


@pytest.mark.parametrize("good", [
    "(objectClass=user)", "(&(objectClass=user)(memberOf=CN=OpenStack,OU=Groups,DC=example,DC=com))",
    "(memberOf:1.2.840.113556.1.4.1941:=CN=OpenStack,DC=example,DC=com)", "(!(cn=svc*))", "(|(cn=a)(cn=b\\2a))",
    "(cn=*)", "(cn>=a)", "(cn~=a)", "(cn=a*b*c)", "(1.2.3=x)", "(cn;lang-en=x)", "(:dn:2.4.8.1:=x)",
])
def test_rfc_4515_filters_are_accepted(good):
    data = ldap_spec()
    data["keystone"]["ldap"]["user_filter"] = good
    spec, issues = parse(data)
    assert spec is not None, issues


@pytest.mark.parametrize("bad,why", [
    ("objectClass=user", "expected '('"),
    ("(cn=a", "unbalanced"),
    ("(cn=a))(url=ldap://x)", "unexpected text"),
    ("(&(cn=a)", "unbalanced"),
    ("(cn=a(b))", "escaped"),
    ("(cn=a\\zz)", "hex escape"),
    ("(cn>=a*)", "only allowed with '='"),
    ("(=a)", "not an attribute"),
    ("(&)", "at least one"),
    ("(cn)", "no '='"),
    ("(!" * 20 + "(cn=a)" + ")" * 20, "nests more than"),
    ("(cn=a)\n(tls_req_cert=never)", "line break"),
])
def test_malformed_ldap_filters_are_refused(bad, why):
    data = ldap_spec()
    data["keystone"]["ldap"]["user_filter"] = bad
    _, issues = parse(data)
    assert any(i.path == "keystone.ldap.user_filter" and why in i.message for i in issues), issues


def test_a_ca_certificate_is_pem_and_nothing_else():
    data = ldap_spec()
    data["keystone"]["ldap"]["ca_certificate"] = CA + "[ldap]\nurl = ldap://evil\n"
    _, issues = parse(data)
    assert any(i.path == "keystone.ldap.ca_certificate" and "only PEM certificates" in i.message for i in issues), issues
    data["keystone"]["ldap"]["ca_certificate"] = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----"
    _, issues = parse(data)
    assert any(i.path == "keystone.ldap.ca_certificate" and "not a PEM certificate" in i.message for i in issues), issues
    data["keystone"]["ldap"]["ca_certificate"] = CA + certificate_pem("Second")
    assert parse(data)[0] is not None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q", "-s"]))
