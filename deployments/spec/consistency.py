"""Self-consistency of a spec: what can be checked without looking at vCenter.

`unknown` names the paths whose value is not the user's (validate.py put a stand-in there because what
was given did not parse): checks that read them are skipped, so one typo never reads as another error."""

from ipaddress import IPv4Network

from deployments.plan import address_needs
from deployments.spec.addresses import address_count, cross_overlaps, overlapping_pairs
from deployments.spec.issues import Issue


def _known(path: str, unknown) -> bool:
    return not any(u == path or u.startswith(path + ".") for u in unknown)


def _subnet(network, path: str, issues: list, unknown) -> IPv4Network | None:
    if not (_known(f"{path}.gateway", unknown) and _known(f"{path}.netmask", unknown)):
        return None
    try:
        return IPv4Network(f"{network.gateway}/{network.netmask}", strict=False)
    except ValueError:
        issues.append(Issue(f"{path}.netmask", "invalid_netmask",
                            f"{network.netmask} is not a netmask: use contiguous ones, e.g. 255.255.255.0 (or /24)."))
        return None


def _ranges_subnet(network, subnet: IPv4Network) -> IPv4Network | None:
    """The subnet of this netmask the ranges agree on, when the gateway is the odd one out: every range
    is in it, and with the DNS servers of that subnet they are at least two witnesses (one range alone
    could be the typo), while no DNS server is in the gateway's subnet."""
    ranges = [r for r in network.ip_ranges if r.end >= r.start]
    if not ranges:
        return None
    theirs = IPv4Network(f"{ranges[0].start}/{subnet.prefixlen}", strict=False)
    if theirs == subnet or not all(r.start in theirs and r.end in theirs for r in ranges):
        return None
    witnesses = len(ranges) + sum(1 for dns in network.dns_servers if dns in theirs)
    if witnesses < 2 or any(dns in subnet for dns in network.dns_servers):
        return None
    return theirs


def _network_issues(network, path: str, label: str, issues: list, unknown=frozenset()) -> IPv4Network | None:
    subnet = _subnet(network, path, issues, unknown)
    for index, ip_range in enumerate(network.ip_ranges):
        if ip_range.end < ip_range.start:
            issues.append(Issue(f"{path}.ip_ranges.{index}", "range_reversed",
                                f"{ip_range.start}-{ip_range.end}: the start is after the end; write it as "
                                f"{ip_range.end}-{ip_range.start}."))
    for index, other_index in overlapping_pairs(network.ip_ranges):  # sorted sweep, not every pair
        issues.append(Issue(f"{path}.ip_ranges.{index}", "ranges_overlap",
                            f"{network.ip_ranges[index]} overlaps {network.ip_ranges[other_index]}; make the ranges distinct."))
    if subnet is None:
        return None
    usable = (subnet.network_address, subnet.broadcast_address) if subnet.prefixlen < 31 else ()
    theirs = _ranges_subnet(network, subnet)
    if theirs is not None:  # every range agrees on a subnet; the gateway is the odd one out
        issues.append(Issue(f"{path}.gateway", "gateway_outside_subnet",
                            f"The gateway {network.gateway} is not in the subnet of the IP ranges ({theirs}, netmask "
                            f"{network.netmask}): is it a typo? Give the router's address in {theirs}."))
        return theirs
    for index, ip_range in enumerate(network.ip_ranges):
        where = f"{path}.ip_ranges.{index}"
        if ip_range.end < ip_range.start:
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
    if network.gateway not in subnet or network.gateway in usable:
        issues.append(Issue(f"{path}.gateway", "gateway_outside_subnet",
                            f"The gateway {network.gateway} is not a host address of {subnet}."))
    return subnet


def _contains(network, address) -> bool:
    return any(r.start <= address <= r.end for r in network.ip_ranges)


def address_count_issues(spec, unknown=frozenset()) -> list[Issue]:
    """Do the ranges hold the addresses this deployment needs (one per VM, and the internal VIP in HA)?
    Not judged while a range is reversed or was not understood: its "start is after end" (or its parse
    error) says what to fix."""
    need_management, need_external = address_needs(spec.topology, spec.neutron.mode, len(spec.compute_clusters))
    what = "one per VM and the internal VIP" if spec.topology == "ha" else "one per VM"
    issues = []
    for key, need, why in (("management_network", need_management, f" ({what})"),
                           ("external_network", need_external, " (the load balancers' or the control VM's public side)")):
        network = getattr(spec, key)
        if not _known(f"{key}.ip_ranges", unknown) or any(r.end < r.start for r in network.ip_ranges):
            continue
        have = address_count(network.ip_ranges)
        if have < need:
            kind = key.split("_")[0]
            issues.append(Issue(f"{key}.ip_ranges", "not_enough_addresses",
                                f"This deployment needs {need} {kind} addresses{why}; the ranges hold {have}. "
                                "Widen a range or add one."))
    return issues


def consistency_issues(spec, unknown=frozenset()) -> list[Issue]:
    issues: list[Issue] = []
    _network_issues(spec.management_network, "management_network", "management", issues, unknown)
    external = _network_issues(spec.external_network, "external_network", "external", issues, unknown)

    vip = spec.load_balancer.public_vip
    if _known("load_balancer.public_vip", unknown):
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
    issues += address_count_issues(spec, unknown)

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
