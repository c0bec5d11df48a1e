"""The shape of a DeploymentSpec (schema version 1). Types and formats only: consistency between
fields is in consistency.py, checks against vCenter and NSX in inventory_checks.py."""

import re
from ipaddress import IPv4Address
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

SCHEMA_VERSION = 1
HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")


def _hostname(value: str) -> str:
    if not HOSTNAME.match(value):
        raise ValueError("is not a valid host name: letters, digits and hyphens in dot-separated labels, e.g. openstack.example.com")
    return value.lower()


def _deployment_name(value: str) -> str:
    if not DNS_LABEL.match(value):
        raise ValueError("use 1-32 lower-case letters, digits and hyphens, starting and ending with a letter or digit (it prefixes every VM name)")
    return value


Hostname = Annotated[str, AfterValidator(_hostname)]
Name = Annotated[str, Field(min_length=1, max_length=255)]


def secret(description: str):
    return Field(description=description, json_schema_extra={"secret": True})


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class IpRange(Strict):
    start: IPv4Address
    end: IPv4Address

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
    ip_ranges: list[IpRange] = Field(min_length=1, description="addresses VIO Manager may assign")
    netmask: IPv4Address
    gateway: IPv4Address
    dns_servers: list[IPv4Address] = Field(default_factory=list, max_length=3)


class VCenterRef(Strict):
    host: Name
    port: int = Field(default=443, ge=1, le=65535)


class LoadBalancer(Strict):
    public_vip: IPv4Address = Field(description="the public address of the OpenStack APIs and dashboard")
    public_hostname: Hostname


class ComputeCluster(Strict):
    cluster: Name
    datastores: list[Name] = Field(default_factory=list)
    datastore_regex: str = ""

    @field_validator("datastore_regex")
    @classmethod
    def _regex(cls, value: str) -> str:
        if value:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"is not a valid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_way(self):
        if bool(self.datastores) == bool(self.datastore_regex):
            raise ValueError("choose datastores, or give a regular expression that matches their names (not both)")
        return self


class DvsConfig(Strict):
    switch: Name
    trunk_portgroup: Name = Field(description="a port group trunking VLANs 0-4094 (or 4095), the data network")


class NsxRef(Strict):
    host: Name
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
    url: Annotated[str, Field(pattern=r"^ldaps?://[^\s/]+(:\d+)?/?$", description="ldap://host:389 or ldaps://host:636")]
    bind_user: Name
    bind_password: SecretStr = secret("password of the bind user")
    user_tree_dn: Name
    user_filter: str = ""
    ca_certificate: str = Field(default="", description="PEM of the CA that signed the LDAP server's certificate (ldaps)")

    @field_validator("bind_password")
    @classmethod
    def _given(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("is required for the bind user")
        return value


class Keystone(Strict):
    admin_user: Name = "admin"
    admin_password: SecretStr = secret("OpenStack admin password")
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
    url: Annotated[str, Field(pattern=r"^https?://\S+$")] | None = None
    upload: str | None = Field(default=None, description="id of an uploaded OVA")

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
    management_datastores: list[Name] = Field(min_length=1, description="where the OpenStack VMs are placed")
    management_network: NetworkSpec
    external_network: NetworkSpec
    load_balancer: LoadBalancer
    compute_clusters: list[ComputeCluster] = Field(min_length=1)
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
