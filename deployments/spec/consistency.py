"""Self-consistency of a spec: what can be checked without looking at vCenter."""

from ipaddress import IPv4Network

from deployments.plan import address_needs
from deployments.spec.addresses import address_count, cross_overlaps, overlapping_pairs
from deployments.spec.issues import Issue


def _subnet(network, path: str, issues: list) -> IPv4Network | None:
    try:
        return IPv4Network(f"{network.gateway}/{network.netmask}", strict=False)
    except ValueError:
        issues.append(Issue(f"{path}.netmask", "invalid_netmask",
                            f"{network.netmask} is not a netmask: use contiguous ones, e.g. 255.255.255.0."))
        return None


def _network_issues(network, path: str, label: str, issues: list) -> IPv4Network | None:
    subnet = _subnet(network, path, issues)
    if subnet is None:
        return None
    usable = (subnet.network_address, subnet.broadcast_address) if subnet.prefixlen < 31 else ()
    for index, ip_range in enumerate(network.ip_ranges):
        where = f"{path}.ip_ranges.{index}"
        if ip_range.end < ip_range.start:
            issues.append(Issue(where, "range_reversed", f"{ip_range}: the range ends before it starts; swap its ends."))
            continue
        if ip_range.start not in subnet or ip_range.end not in subnet:
            issues.append(Issue(where, "range_outside_subnet",
                                f"{ip_range} is not inside the {label} subnet {subnet} (gateway {network.gateway}, "
                                f"netmask {network.netmask}). Use addresses of that subnet, or correct the netmask."))
        elif any(ip_range.start <= reserved <= ip_range.end for reserved in usable):
            issues.append(Issue(where, "range_includes_reserved",
                                f"{ip_range} includes the subnet's network or broadcast address; leave those out."))
        if ip_range.start <= network.gateway <= ip_range.end:
            issues.append(Issue(f"{path}.gateway", "gateway_in_range",
                                f"The gateway {network.gateway} is inside the range {ip_range}; take it out of the range."))
    for index, other_index in overlapping_pairs(network.ip_ranges):  # sorted sweep, not every pair
        issues.append(Issue(f"{path}.ip_ranges.{index}", "ranges_overlap",
                            f"{network.ip_ranges[index]} overlaps {network.ip_ranges[other_index]}; make the ranges distinct."))
    if network.gateway not in subnet or network.gateway in usable:
        issues.append(Issue(f"{path}.gateway", "gateway_outside_subnet",
                            f"The gateway {network.gateway} is not a host address of {subnet}."))
    return subnet


def _contains(network, address) -> bool:
    return any(r.start <= address <= r.end for r in network.ip_ranges)


def consistency_issues(spec) -> list[Issue]:
    issues: list[Issue] = []
    management = _network_issues(spec.management_network, "management_network", "management", issues)
    external = _network_issues(spec.external_network, "external_network", "external", issues)

    vip = spec.load_balancer.public_vip
    if external is not None and vip not in external:
        issues.append(Issue("load_balancer.public_vip", "vip_outside_subnet",
                            f"The public VIP {vip} is not in the external subnet {external}."))
    if _contains(spec.external_network, vip):
        issues.append(Issue("load_balancer.public_vip", "vip_in_range",
                            f"The public VIP {vip} is inside an external IP range; take it out of the range, "
                            "since VIO Manager assigns those addresses to VMs."))
    if _contains(spec.management_network, vip):
        issues.append(Issue("load_balancer.public_vip", "vip_in_range",
                            f"The public VIP {vip} is inside a management IP range."))
    external_ranges, management_ranges = spec.external_network.ip_ranges, spec.management_network.ip_ranges
    for index, other_index in cross_overlaps(external_ranges, management_ranges):
        issues.append(Issue(f"external_network.ip_ranges.{index}", "ranges_overlap",
                            f"{external_ranges[index]} overlaps the management range {management_ranges[other_index]}; "
                            "the two networks need distinct addresses."))

    need_management, need_external = address_needs(spec.topology, spec.neutron.mode, len(spec.compute_clusters))
    have_management = address_count(spec.management_network.ip_ranges)
    have_external = address_count(spec.external_network.ip_ranges)
    if have_management < need_management:
        issues.append(Issue("management_network.ip_ranges", "not_enough_addresses",
                            f"This deployment needs {need_management} management addresses (one per VM and the internal "
                            f"VIP); the ranges hold {have_management}. Widen a range or add one."))
    if have_external < need_external:
        issues.append(Issue("external_network.ip_ranges", "not_enough_addresses",
                            f"This deployment needs {need_external} external addresses; the ranges hold {have_external}."))

    names = [c.cluster for c in spec.compute_clusters]
    for index, name in enumerate(names):
        if name in names[:index]:
            issues.append(Issue(f"compute_clusters.{index}.cluster", "duplicate_cluster", f"{name} is listed twice."))
        if spec.topology == "ha" and name == spec.management_cluster:
            issues.append(Issue(f"compute_clusters.{index}.cluster", "compute_is_management",
                                f"{name} is the management cluster. In the HA topology, OpenStack's own VMs and the "
                                "instances need separate clusters: choose another compute cluster."))
    if spec.neutron.mode == "nsx" and spec.neutron.nsx.edge_cluster in names:
        issues.append(Issue("neutron.nsx.edge_cluster", "edge_is_compute",
                            "The edge cluster should not be a compute cluster: NSX Edges would compete with instances.",
                            severity="advisory"))
    return issues
