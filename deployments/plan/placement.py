"""Initial placement of the VMs on the management cluster's hosts: deterministic, spread round
robin in plan order, so the members of an anti-affinity group (planned one after another) start
on different hosts and the engine can bound how many clones land on one host at a time."""


def place(vm_names: list[str], host_moids: list[str]) -> dict[str, str]:
    """{VM name: host moid}; empty when there are no usable hosts (vCenter's DRS then chooses)."""
    if not host_moids:
        return {}
    return {name: host_moids[index % len(host_moids)] for index, name in enumerate(vm_names)}
