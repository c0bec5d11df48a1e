from bisect import bisect_left
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from deployments.plan import roles as r


@dataclass
class PlannedVm:
    role: str
    role_label: str
    name: str
    vcpu: int
    memory_gb: int
    disk_gb: int
    datastore: str = ""
    management_ip: str = ""
    external_ip: str = ""
    cluster: str = ""  # the compute cluster a nova-compute VM serves


@dataclass
class Plan:
    vms: list[PlannedVm]
    internal_vip: str
    public_vip: str
    anti_affinity: dict[str, list[str]] = field(default_factory=dict)
    management_addresses_needed: int = 0
    external_addresses_needed: int = 0

    @property
    def total_vcpu(self) -> int:
        return sum(vm.vcpu for vm in self.vms)

    @property
    def total_memory_gb(self) -> int:
        return sum(vm.memory_gb for vm in self.vms)

    @property
    def total_disk_gb(self) -> int:
        return sum(vm.disk_gb for vm in self.vms)

    def as_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Plan":
        return cls(**{**data, "vms": [PlannedVm(**vm) for vm in data["vms"]]})

    def disk_gb_by_datastore(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for vm in self.vms:
            totals[vm.datastore] = totals.get(vm.datastore, 0) + vm.disk_gb
        return totals


def roles_for(topology: str, neutron_mode: str, compute_clusters: int) -> list[tuple[r.Role, int]]:
    """[(role, how many VMs)] in the order they are built and addressed."""
    if topology == "compact":
        return [(r.COMPACT_CONTROL, 1), (r.COMPUTE, compute_clusters)]
    roles = [(r.LOAD_BALANCER, 2), (r.CONTROLLER, 2), (r.DATABASE, 3), (r.MEMCACHE, 2), (r.OBJECT_STORAGE, 1),
             (r.COMPUTE, compute_clusters)]
    if neutron_mode == "dvs":
        roles.append((r.DHCP, 2))
    return roles


def address_needs(topology: str, neutron_mode: str, compute_clusters: int) -> tuple[int, int]:
    """(management, external) addresses the ranges must hold."""
    roles = roles_for(topology, neutron_mode, compute_clusters)
    management = sum(count for _, count in roles) + (1 if topology == "ha" else 0)  # + the internal VIP
    external = sum(count for role, count in roles if role.external)
    if topology == "ha":
        management = max(management, r.HA_MINIMUM_MANAGEMENT_ADDRESSES)
        external = max(external, r.HA_MINIMUM_EXTERNAL_ADDRESSES)
    return management, external


def _is_ipv4(address) -> bool:
    try:
        IPv4Address(address)
    except ValueError:
        return False
    return True


def _addresses(ranges, taken: frozenset[str] = frozenset()) -> "iter[str]":
    """The free addresses of the ranges, in the order given, lazily: the plan takes the few it needs,
    stepping over taken ones by arithmetic on their sorted values (never every address of a wide range)."""
    held = sorted({int(IPv4Address(address)) for address in taken if _is_ipv4(address)})
    for ip_range in ranges:
        value, end = int(ip_range.start), int(ip_range.end)
        index = bisect_left(held, value)
        while value <= end:
            if index < len(held) and held[index] == value:  # taken: step over the whole taken run
                while index < len(held) and held[index] == value:
                    value, index = value + 1, index + 1
                continue
            yield str(IPv4Address(value))
            value += 1
            while index < len(held) and held[index] < value:
                index += 1


def _identity(vm: PlannedVm, ordinal: int) -> tuple[str, str]:
    """What makes a VM the same VM across revisions: a nova-compute VM is its cluster's, any other
    the n-th of its role."""
    return (vm.role, vm.cluster) if vm.role == r.COMPUTE.key else (vm.role, str(ordinal))


def build_plan(spec, datastore_free_gb: dict[str, float] | None = None, *,
               taken_management: frozenset[str] = frozenset(), taken_external: frozenset[str] = frozenset(),
               keep: Plan | None = None) -> Plan:
    """The VMs of this spec with deterministic names and addresses (the first free ones of the
    ranges, skipping those other deployments hold). Datastores: each VM goes to the management
    datastore with the most free space left (in the order given when free space is unknown).

    keep: the plan the deployment runs now (a change): every VM still wanted keeps its name,
    addresses and datastore (a nova-compute VM by its cluster), new ones take free addresses and the
    lowest free number of their role, and the internal VIP stays."""
    compute_clusters = len(spec.compute_clusters)
    kept = {}
    if keep is not None:
        seen: dict[str, int] = {}
        for vm in keep.vms:
            seen[vm.role] = seen.get(vm.role, 0) + 1
            kept[_identity(vm, seen[vm.role])] = vm
        taken_management = frozenset(taken_management) | {vm.management_ip for vm in keep.vms} | {keep.internal_vip}
        taken_external = frozenset(taken_external) | {vm.external_ip for vm in keep.vms if vm.external_ip}
    management_ips = _addresses(spec.management_network.ip_ranges, taken_management)
    external_ips = _addresses(spec.external_network.ip_ranges, taken_external)
    if keep is not None and keep.internal_vip and spec.topology == "ha":
        internal_vip = keep.internal_vip
    else:
        internal_vip = next(management_ips, "") if spec.topology == "ha" else ""
    free = dict(datastore_free_gb or {name: 0.0 for name in spec.management_datastores})
    order = list(spec.management_datastores)
    names_kept = {vm.name for vm in kept.values()}

    vms: list[PlannedVm] = []
    groups: dict[str, list[str]] = {}
    for role, count in roles_for(spec.topology, spec.neutron.mode, compute_clusters):
        number = 0
        for index in range(1, count + 1):
            cluster = spec.compute_clusters[index - 1].cluster if role == r.COMPUTE else ""
            identity = (role.key, cluster) if role == r.COMPUTE else (role.key, str(index))
            if identity in kept:
                old = kept[identity]
                vm = PlannedVm(role=role.key, role_label=role.label, name=old.name, vcpu=role.vcpu,
                               memory_gb=role.memory_gb, disk_gb=role.disk_gb, datastore=old.datastore,
                               management_ip=old.management_ip, external_ip=old.external_ip, cluster=cluster)
            else:
                number += 1
                while f"{spec.name}-{role.key}-{number:02d}" in names_kept:
                    number += 1
                datastore = max(order, key=lambda ds: (free.get(ds, 0.0), -order.index(ds)))
                free[datastore] = free.get(datastore, 0.0) - role.disk_gb
                vm = PlannedVm(
                    role=role.key, role_label=role.label, name=f"{spec.name}-{role.key}-{number:02d}", vcpu=role.vcpu,
                    memory_gb=role.memory_gb, disk_gb=role.disk_gb, datastore=datastore,
                    management_ip=next(management_ips, ""), external_ip=next(external_ips, "") if role.external else "",
                    cluster=cluster,
                )
            vms.append(vm)
            if role.anti_affinity and count > 1:
                groups.setdefault(f"{spec.name}-{role.key}", []).append(vm.name)
    management, external = address_needs(spec.topology, spec.neutron.mode, compute_clusters)
    return Plan(vms=vms, internal_vip=internal_vip, public_vip=str(spec.load_balancer.public_vip),
                anti_affinity=groups, management_addresses_needed=management, external_addresses_needed=external)


def anti_affinity_rule_names(deployment_name: str) -> list[str]:
    """Every rule name a deployment of this name can have made (one per role kept apart), whatever its
    topology: what teardown looks for."""
    keep_apart = {role.key for role in vars(r).values() if isinstance(role, r.Role) and role.anti_affinity}
    return [f"{deployment_name}-{key}" for key in sorted(keep_apart)]
