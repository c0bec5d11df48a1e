"""The shape of a DeploymentSpec (schema version 1). Types and formats only: consistency between
fields is in consistency.py, checks against vCenter and NSX in inventory_checks.py.

Every string that is rendered into configuration is one of text.py's constrained types (ConfigText and
those built on it): a spec holds nothing that could change the structure of a file it is rendered into.
Lists are bounded, so that no check or plan does unbounded work for one request."""

import ipaddress
import re
from ipaddress import IPv4Address
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_core import PydanticCustomError

from deployments.spec.patterns import MAX_PATTERN, pattern_problem
from deployments.spec.text import (
    ConfigText, Host, Hostname, LdapFilter, LdapUrl, Name, PemCertificates, Secret,
)

SCHEMA_VERSION = 1
DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")

# Limits on lists: far above any real cloud (VIO needs ~20 addresses), low enough that every check stays cheap.
MAX_IP_RANGES = 64
MAX_DNS_SERVERS = 3
MAX_COMPUTE_CLUSTERS = 64
MAX_DATASTORES = 256


def _deployment_name(value: str) -> str:
    if not DNS_LABEL.fullmatch(value):
        raise ValueError("use 1-32 lower-case letters, digits and hyphens, starting and ending with a letter or digit (it prefixes every VM name)")
    return value


def _datastore_pattern(value: str) -> str:
    problem = pattern_problem(value) if value else None
    if problem:
        raise ValueError(problem)
    return value


def _shown(value: str) -> str:
    """A typed value quoted in a message: printable, and short."""
    text = "".join(ch for ch in value if ch.isprintable())
    return text if len(text) <= 40 else text[:39] + "…"


def _address(value):
    """One IPv4 address. A network or an address with a prefix length ("10.0.0.0/24") is explained,
    not called "not a valid address"."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if "/" in text:
        try:
            network = ipaddress.IPv4Interface(text)
        except ValueError:
            pass
        else:
            if network.ip == network.network.network_address and network.network.prefixlen < 31:
                raise PydanticCustomError("address_is_network", f"{_shown(text)} is a network: give one address, not "
                                                                f"a network (e.g. {network.ip + 1})")
            raise PydanticCustomError("address_is_network", f"{_shown(text)} is an address with a prefix length: give "
                                                            f"one address, not a network: {network.ip}")
    try:
        return IPv4Address(text)
    except ValueError:
        raise PydanticCustomError("ip_v4_address", f"'{_shown(text)}' is not an IPv4 address: give four numbers from 0 "
                                                   "to 255 separated by dots, e.g. 10.20.0.1") from None


def _netmask(value):
    """A netmask as 255.255.255.0, or as a prefix length: /24 or 24."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    prefix = text[1:] if text.startswith("/") else text
    if prefix.isdigit():
        if int(prefix) > 32:
            raise PydanticCustomError("invalid_netmask", f"/{prefix} is not a prefix length: use 0 to 32, e.g. /24")
        return ipaddress.IPv4Network(f"0.0.0.0/{prefix}").netmask
    if "/" in text:
        raise PydanticCustomError("address_is_network", f"{_shown(text)} is a network: give its netmask, e.g. "
                                                        "255.255.255.0 or /24")
    try:
        return IPv4Address(text)
    except ValueError:
        raise PydanticCustomError("ip_v4_address", f"'{_shown(text)}' is not a netmask: write it as 255.255.255.0 "
                                                   "or as a prefix length, /24") from None


# Addresses as people type them: the schema is IPv4Address's; the messages say what to give instead.
Address = Annotated[IPv4Address, BeforeValidator(_address)]
Netmask = Annotated[IPv4Address, BeforeValidator(_netmask)]


DatastorePattern = Annotated[ConfigText, Field(max_length=MAX_PATTERN), AfterValidator(_datastore_pattern)]


def secret(description: str):
    return Field(description=description, json_schema_extra={"secret": True})


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class IpRange(Strict):
    start: Address
    end: Address

    @classmethod
    def parse(cls, text: str) -> "IpRange":
        """"10.0.0.10-10.0.0.40" or a single address."""
        start, _, end = text.partition("-")
        return cls(start=start.strip(), end=(end or start).strip())

    def __str__(self) -> str:
        return f"{self.start}-{self.end}" if self.start != self.end else str(self.start)

    @property
    def size(self) -> int:
        return int(self.end) - int(self.start) + 1 if self.end >= self.start else 0


class NetworkSpec(Strict):
    portgroup: Name = Field(description="port group the VMs' NIC connects to")
    ip_ranges: list[IpRange] = Field(min_length=1, max_length=MAX_IP_RANGES, description="addresses VIO Manager may assign")
    netmask: Netmask
    gateway: Address
    dns_servers: list[Address] = Field(default_factory=list, max_length=MAX_DNS_SERVERS)


class VCenterRef(Strict):
    host: Host
    port: int = Field(default=443, ge=1, le=65535)


class LoadBalancer(Strict):
    public_vip: Address = Field(description="the public address of the OpenStack APIs and dashboard")
    public_hostname: Hostname


class ComputeCluster(Strict):
    cluster: Name
    datastores: list[Name] = Field(default_factory=list, max_length=MAX_DATASTORES)
    datastore_regex: DatastorePattern = Field(
        default="", description="a regular expression nova-compute matches datastore names with (Python's re.match)")

    @model_validator(mode="after")
    def _one_way(self):
        if bool(self.datastores) == bool(self.datastore_regex):
            raise ValueError("choose datastores, or give a regular expression that matches their names (not both)")
        return self


class DvsConfig(Strict):
    switch: Name
    trunk_portgroup: Name = Field(description="a port group trunking VLANs 0-4094 (or 4095), the data network")


class NsxRef(Strict):
    host: Host
    port: int = Field(default=443, ge=1, le=65535)


class NsxConfig(Strict):
    manager: NsxRef
    transport_zone: Name = Field(description="the VDN scope id, e.g. vdnscope-1")
    edge_cluster: Name
    vds: Name = Field(description="the distributed switch NSX uses for VXLAN")
    external_portgroup: Name


class Neutron(Strict):
    mode: Literal["dvs", "nsx"]
    dvs: DvsConfig | None = None
    nsx: NsxConfig | None = None

    @model_validator(mode="after")
    def _matching_section(self):
        wanted, other = (self.dvs, self.nsx) if self.mode == "dvs" else (self.nsx, self.dvs)
        if wanted is None:
            raise ValueError(f"the {self.mode.upper()} settings are missing for mode '{self.mode}'")
        if other is not None:
            raise ValueError(f"mode is '{self.mode}': remove the settings of the other mode")
        return self


class Ldap(Strict):
    url: LdapUrl = Field(description="ldap://host:389 or ldaps://host:636")
    bind_user: Name
    bind_password: Secret = secret("password of the bind user")
    user_tree_dn: Name
    user_filter: LdapFilter = Field(default="", description="an RFC 4515 filter, e.g. (memberOf=CN=OpenStack,DC=example,DC=com)")
    ca_certificate: PemCertificates = Field(default="", description="PEM of the CA that signed the LDAP server's certificate (ldaps)")

    @field_validator("bind_password")
    @classmethod
    def _given(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("is required for the bind user")
        return value


class Keystone(Strict):
    admin_user: Name = "admin"
    admin_password: Secret = secret("OpenStack admin password")
    admin_project: Name = "admin"
    backend: Literal["sql", "ldap"] = "sql"
    ldap: Ldap | None = None

    @field_validator("admin_password")
    @classmethod
    def _strong(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 8:
            raise ValueError("must be at least 8 characters")
        return value

    @model_validator(mode="after")
    def _ldap_when_needed(self):
        if self.backend == "ldap" and self.ldap is None:
            raise ValueError("the LDAP settings are missing for the LDAP backend")
        if self.backend == "sql" and self.ldap is not None:
            raise ValueError("backend is SQL: remove the LDAP settings")
        return self


class Syslog(Strict):
    host: Hostname
    port: int = Field(default=514, ge=1, le=65535)
    protocol: Literal["udp", "tcp"] = "udp"


class ApplianceOva(Strict):
    url: Annotated[str, Field(pattern=r"^https?://\S+$", max_length=2048)] | None = Field(
        default=None, description="where the appliance downloads the OVA: http or https, from a public address or a "
                                  "network the administrator allows (VIO_OVA_ALLOWED_NETWORKS)")
    upload: str | None = Field(default=None, description="id of an uploaded OVA")

    @field_validator("url")
    @classmethod
    def _fetchable(cls, value: str | None) -> str | None:
        """What the download would refuse before any lookup: a host given as a refused address (names
        are resolved, and their addresses checked, when the OVA is downloaded)."""
        from django.conf import settings

        from inventory.clients.download import parse_networks, url_refusal

        problem = value and url_refusal(value, parse_networks(settings.VIO_OVA_ALLOWED_NETWORKS))
        if problem:
            raise PydanticCustomError("url_refused", problem[:1].upper() + problem[1:])
        return value

    @model_validator(mode="after")
    def _one_source(self):
        if bool(self.url) == bool(self.upload):
            raise ValueError("give the OVA's URL or upload the file (one of the two)")
        return self


class DeploymentSpec(Strict):
    schema_version: Literal[1] = SCHEMA_VERSION
    name: Annotated[str, AfterValidator(_deployment_name)]
    topology: Literal["ha", "compact"] = "ha"
    vcenter: VCenterRef
    datacenter: Name
    management_cluster: Name
    management_datastores: list[Name] = Field(min_length=1, max_length=MAX_DATASTORES, description="where the OpenStack VMs are placed")
    management_network: NetworkSpec
    external_network: NetworkSpec
    load_balancer: LoadBalancer
    compute_clusters: list[ComputeCluster] = Field(min_length=1, max_length=MAX_COMPUTE_CLUSTERS)
    glance_datastore: Name
    neutron: Neutron
    keystone: Keystone
    syslog: Syslog | None = None
    appliance_ova: ApplianceOva


def secret_paths(model: type[BaseModel] = DeploymentSpec, prefix: str = "") -> list[str]:
    """JSON paths of every secret field ("keystone.admin_password", "keystone.ldap.bind_password")."""
    paths = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        if (info.json_schema_extra or {}).get("secret"):
            paths.append(path)
        for candidate in getattr(info.annotation, "__args__", ()) or (info.annotation,):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                paths += secret_paths(candidate, path + ".")
    return paths
