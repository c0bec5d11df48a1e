"""The management and external networks, and the public load balancer address."""

import ipaddress
import re

from django import forms

from deployments.plan import address_needs
from deployments.wizard.fields import PickerField, bound_value, offer, portgroup_label
from deployments.wizard.forms.base import StepForm, compact


def parse_ranges(text: str) -> list[dict]:
    """One range per line: "first-last", a single address, or a block "10.20.0.64/27" (its host
    addresses: what a network means where ranges are asked for). The spec judges the addresses."""
    ranges = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        if "/" in line and "-" not in line:
            try:
                block = ipaddress.IPv4Network(line, strict=True)
            except ValueError:
                pass  # an address with a prefix (10.20.0.5/24), or no network: the spec explains
            else:
                hosts = (block.network_address + 1, block.broadcast_address - 1) if block.prefixlen < 31 else \
                    (block.network_address, block.broadcast_address)
                ranges.append({"start": str(hosts[0]), "end": str(hosts[1])})
                continue
        start, _, end = line.partition("-")
        ranges.append({"start": start.strip(), "end": (end or start).strip()})
    return ranges


def format_ranges(ranges: list[dict]) -> str:
    return "\n".join(r["start"] if r["start"] == r["end"] else f"{r['start']}-{r['end']}" for r in ranges or [])


class NetworkForm(StepForm):
    key = ""  # management_network or external_network

    portgroup = PickerField(label="Port group",
                            help_text="Port groups on every host of the management cluster, with their VLAN.")
    ip_ranges = forms.CharField(label="IP ranges", widget=forms.Textarea(attrs={"rows": 3}),
                                help_text="One range per line, first-last, e.g. 10.20.0.10-10.20.0.40, a single "
                                          "address, or a block such as 10.20.0.64/27 (its host addresses). VIO Manager "
                                          "assigns these addresses to the VMs.")
    netmask = forms.CharField(label="Netmask", help_text="e.g. 255.255.255.0, or /24")
    gateway = forms.CharField(label="Gateway", help_text="The router of this subnet; not inside a range.")
    dns_servers = forms.CharField(label="DNS servers", required=False,
                                  help_text="Up to 3 addresses, separated by commas or spaces.")

    def setup(self):
        context = self.state.inventory()
        cluster = context.clusters.get(self.state.management_cluster or "")
        networks = [n for n in sorted(context.networks.values(), key=lambda n: n.name)
                    if not n.uplink and (cluster is None or cluster.pk in n.usable_from)]
        offer(self.fields["portgroup"], [("", "— choose a port group —")] + [(n.name, portgroup_label(n)) for n in networks],
              bound_value(self, "portgroup"))
        topology, mode, clusters = self.state.known_size()
        self.intro = self.describe(topology, *address_needs(topology, mode, clusters))

    def describe(self, topology: str, management: int, external: int) -> str:
        return self.intro

    def from_spec(self, spec: dict) -> dict:
        network = spec.get(self.key) or {}
        return compact({
            "portgroup": network.get("portgroup"),
            "ip_ranges": format_ranges(network.get("ip_ranges")),
            "netmask": network.get("netmask"),
            "gateway": network.get("gateway"),
            "dns_servers": ", ".join(network.get("dns_servers") or []),
        })

    def fragment(self) -> dict:
        dns = [part for part in re.split(r"[\s,;]+", self.value("dns_servers", "")) if part]
        return {self.key: compact({
            "portgroup": self.value("portgroup"),
            "ip_ranges": parse_ranges(self.value("ip_ranges", "")),
            "netmask": self.value("netmask"),
            "gateway": self.value("gateway"),
        }) | {"dns_servers": dns}}

    def inventory_issues(self, spec) -> list:
        from deployments.spec.inventory_checks import address_issues

        context = self.state.inventory(spec.datacenter)
        issues = context.check_network(getattr(spec, self.key), self.key, spec.management_cluster)
        if context.vcenter is not None:  # the addresses other deployments hold, found where they are typed
            issues += address_issues(spec, context.vcenter, self.state.deployment if self.state.editing else None)
        return issues


class ManagementNetworkForm(NetworkForm):
    key = step = "management_network"
    title = "Management network"
    intro = "The network of OpenStack's VMs among themselves and with vCenter."

    def describe(self, topology: str, management: int, external: int) -> str:
        what = "one per VM and the internal virtual IP" if topology == "ha" else "one per VM"
        return (f"The network of OpenStack's VMs among themselves and with vCenter. This deployment needs at least "
                f"{management} addresses here: {what}.")


class ExternalNetworkForm(NetworkForm):
    key = step = "external_network"
    title = "External network"
    intro = "Where users reach the dashboard and the OpenStack APIs."

    def describe(self, topology: str, management: int, external: int) -> str:
        side = "the load balancers' public side" if topology == "ha" else "the control VM's public side"
        return (f"Where users reach the dashboard and the OpenStack APIs: {side}. It needs at least {external} "
                f"address{'es' if external > 1 else ''}, besides the public virtual IP.")


class LoadBalancerForm(StepForm):
    step = "load_balancer"
    title = "Load balancer"
    intro = "The public address of the OpenStack dashboard and APIs."

    public_vip = forms.CharField(label="Public virtual IP",
                                 help_text="An address of the external subnet, outside its IP ranges.")
    public_hostname = forms.CharField(label="Public host name",
                                      help_text="e.g. openstack.example.com; it must resolve to the public virtual IP.")

    def from_spec(self, spec: dict) -> dict:
        return compact(dict(spec.get("load_balancer") or {}))

    def fragment(self) -> dict:
        return {"load_balancer": compact({"public_vip": self.value("public_vip"),
                                          "public_hostname": self.value("public_hostname")})}

    def inventory_issues(self, spec) -> list:
        from deployments.spec.inventory_checks import address_issues

        context = self.state.inventory(spec.datacenter)
        if context.vcenter is None:
            return []
        return address_issues(spec, context.vcenter, self.state.deployment if self.state.editing else None)
