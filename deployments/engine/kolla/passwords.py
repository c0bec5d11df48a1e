"""kolla-ansible 20.x passwords.yml, generated deterministically from a master key (kolla-genpwd's kinds of
secret, but reproducible: the same master key renders the same passwords.yml)."""

import base64
import hashlib
import hmac
import uuid

# The keys of kolla-ansible 20.6.0's etc/kolla/passwords.yml (tests compare with the installed package).
KOLLA_PASSWORD_KEYS: tuple[str, ...] = (
    'aodh_database_password', 'aodh_keystone_password', 'barbican_crypto_key', 'barbican_database_password',
    'barbican_keystone_password', 'barbican_p11_password', 'bifrost_ssh_key', 'blazar_database_password',
    'blazar_keystone_password', 'ceilometer_database_password', 'ceilometer_keystone_password',
    'ceph_rgw_keystone_password', 'cinder_database_password', 'cinder_keystone_password', 'cinder_rbd_secret_uuid',
    'cloudkitty_database_password', 'cloudkitty_keystone_password', 'cyborg_database_password',
    'cyborg_keystone_password', 'database_password', 'designate_database_password', 'designate_keystone_password',
    'designate_pool_id', 'designate_rndc_key', 'docker_registry_password', 'etcd_cluster_token',
    'glance_database_password', 'glance_keystone_password', 'gnocchi_database_password', 'gnocchi_keystone_password',
    'gnocchi_project_id', 'gnocchi_resource_id', 'gnocchi_user_id', 'grafana_admin_password',
    'grafana_database_password', 'haproxy_password', 'haproxy_ssh_key', 'heat_database_password',
    'heat_domain_admin_password', 'heat_keystone_password', 'hnas_nfs_password', 'horizon_database_password',
    'horizon_secret_key', 'infoblox_admin_password', 'ironic_database_password', 'ironic_inspector_database_password',
    'ironic_inspector_keystone_password', 'ironic_keystone_password', 'keepalived_password',
    'keystone_admin_password', 'keystone_database_password', 'keystone_federation_openid_crypto_password',
    'keystone_ssh_key', 'kolla_ssh_key', 'kuryr_keystone_password', 'libvirt_sasl_password',
    'magnum_database_password', 'magnum_keystone_password', 'manila_database_password', 'manila_keystone_password',
    'mariadb_backup_database_password', 'mariadb_monitor_password', 'masakari_database_password',
    'masakari_keystone_password', 'memcache_secret_key', 'metadata_secret', 'mistral_database_password',
    'mistral_keystone_password', 'neutron_database_password', 'neutron_keystone_password', 'neutron_ssh_key',
    'nova_api_database_password', 'nova_database_password', 'nova_keystone_password', 'nova_ssh_key',
    'nsxv3_api_password', 'octavia_amp_ssh_key', 'octavia_ca_password', 'octavia_client_ca_password',
    'octavia_database_password', 'octavia_keystone_password', 'octavia_persistence_database_password',
    'opensearch_dashboards_password', 'osprofiler_secret', 'placement_database_password',
    'placement_keystone_password', 'prometheus_alertmanager_password', 'prometheus_bcrypt_salt',
    'prometheus_grafana_password', 'prometheus_haproxy_password', 'prometheus_mysql_exporter_database_password',
    'prometheus_password', 'prometheus_skyline_password', 'proxysql_admin_password', 'proxysql_stats_password',
    'rabbitmq_cluster_cookie', 'rabbitmq_monitoring_password', 'rabbitmq_password', 'rbd_secret_uuid',
    'redis_master_password', 'skyline_database_password', 'skyline_keystone_password', 'skyline_secret_key',
    'tacker_database_password', 'tacker_keystone_password', 'telemetry_secret_key', 'trove_database_password',
    'trove_keystone_password', 'valkey_master_password', 'venus_database_password', 'venus_keystone_password',
    'vmware_dvs_host_password', 'vmware_nsxp_api_password', 'vmware_nsxp_metadata_proxy_shared_secret',
    'vmware_nsxv_password', 'vmware_vcenter_host_password', 'watcher_database_password', 'watcher_keystone_password',
    'zun_database_password', 'zun_keystone_password',
)

# The kinds kolla-genpwd gives (kolla_ansible/cmd/genpwd.py); everything else is a 40-character password.
SSH_KEYS = frozenset({"kolla_ssh_key", "nova_ssh_key", "keystone_ssh_key", "bifrost_ssh_key", "octavia_amp_ssh_key",
                      "neutron_ssh_key", "haproxy_ssh_key"})
UUID_KEYS = frozenset({"rbd_secret_uuid", "cinder_rbd_secret_uuid", "gnocchi_project_id", "gnocchi_resource_id",
                       "gnocchi_user_id", "designate_pool_id"})
BLANK_KEYS = frozenset({"docker_registry_password"})
HMAC_MD5_KEYS = frozenset({"designate_rndc_key", "osprofiler_secret"})
FERNET_KEYS = frozenset({"barbican_crypto_key"})
BCRYPT_SALT_KEYS = frozenset({"prometheus_bcrypt_salt"})
PASSWORD_LENGTH = 40

# Secrets that come from the spec or the registered endpoints rather than from the master key.
GIVEN_KEYS = ("keystone_admin_password", "vmware_vcenter_host_password", "vmware_nsxv_password",
              "vmware_dvs_host_password")
# VIO Manager's own variables, used by templated override files (kolla defines no variable for them).
EXTRA_KEYS = ("keystone_ldap_bind_password",)

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_SALT = _ALNUM + "./"


def _stream(master_key: bytes, name: str):
    """An endless, deterministic byte stream for one key: HMAC-SHA256(master, name:counter)."""
    counter = 0
    while True:
        yield from hmac.new(master_key, f"{name}:{counter}".encode(), hashlib.sha256).digest()
        counter += 1


def _take(master_key: bytes, name: str, count: int) -> bytes:
    stream = _stream(master_key, name)
    return bytes(next(stream) for _ in range(count))


def _chars(master_key: bytes, name: str, alphabet: str, length: int) -> str:
    """Unbiased characters from the stream (rejection sampling)."""
    limit = 256 - 256 % len(alphabet)
    out = []
    for byte in _stream(master_key, name):
        if byte < limit:
            out.append(alphabet[byte % len(alphabet)])
            if len(out) == length:
                return "".join(out)
    raise AssertionError("unreachable")


def _ssh_string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def ed25519_keypair(seed: bytes, comment: str = "") -> dict[str, str]:
    """An OpenSSH Ed25519 key pair from a 32-byte seed, written out by hand so that it is deterministic
    (cryptography's OpenSSH encoder draws a random check integer)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.from_private_bytes(seed)
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    public_blob = _ssh_string(b"ssh-ed25519") + _ssh_string(public)
    check = hashlib.sha256(b"check" + seed).digest()[:4]
    private = (check + check + public_blob + _ssh_string(seed + public) + _ssh_string(comment.encode()))
    private += bytes(range(1, 1 + (-len(private) % 8)))
    blob = (b"openssh-key-v1\0" + _ssh_string(b"none") + _ssh_string(b"none") + _ssh_string(b"")
            + (1).to_bytes(4, "big") + _ssh_string(public_blob) + _ssh_string(private))
    text = base64.b64encode(blob).decode()
    body = "\n".join(text[i:i + 70] for i in range(0, len(text), 70))
    return {
        "private_key": f"-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----\n",
        "public_key": f"ssh-ed25519 {base64.b64encode(public_blob).decode()}" + (f" {comment}" if comment else ""),
    }


def generate_value(master_key: bytes, name: str):
    if name in SSH_KEYS:
        return ed25519_keypair(_take(master_key, name, 32), comment=name)
    if name in BLANK_KEYS:
        return None
    if name in UUID_KEYS:
        return str(uuid.UUID(bytes=_take(master_key, name, 16), version=4))
    if name in HMAC_MD5_KEYS:
        return _take(master_key, name, 16).hex()
    if name in FERNET_KEYS:
        return base64.urlsafe_b64encode(_take(master_key, name, 32)).decode()
    if name in BCRYPT_SALT_KEYS:
        return _chars(master_key, name, _SALT, 22)
    return _chars(master_key, name, _ALNUM, PASSWORD_LENGTH)


def generate_passwords(master_key: str | bytes, given: dict[str, str]) -> dict:
    """Every kolla password: the given ones as given, the rest derived from the master key."""
    if not master_key:
        raise ValueError("a master key is required to generate the kolla passwords")
    key = master_key.encode() if isinstance(master_key, str) else bytes(master_key)
    unknown = sorted(set(given) - set(KOLLA_PASSWORD_KEYS) - set(EXTRA_KEYS))
    if unknown:
        raise ValueError(f"not kolla passwords: {', '.join(unknown)}")
    passwords = {name: generate_value(key, name) for name in KOLLA_PASSWORD_KEYS}
    passwords.update({name: value for name, value in given.items() if value})
    return passwords
