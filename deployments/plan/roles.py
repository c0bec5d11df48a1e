"""The VMs of each topology. HA with one compute cluster and DVS sums to VIO's published
requirement: 56 vCPU, 192 GB RAM, 605 GB of disk."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Role:
    key: str
    label: str
    count: int
    vcpu: int
    memory_gb: int
    disk_gb: int
    external: bool = False  # also on the external network
    anti_affinity: bool = False  # keep its VMs on different hosts


CONTROLLER = Role("controller", "Controller (Horizon, Keystone, Nova API, Glance, Cinder, Heat)", 2, 8, 24, 80, anti_affinity=True)
DATABASE = Role("db", "MariaDB Galera node", 3, 4, 16, 80, anti_affinity=True)
MEMCACHE = Role("memcache", "Memcached and RabbitMQ", 2, 4, 16, 40, anti_affinity=True)
LOAD_BALANCER = Role("lb", "Load balancer (internal and public VIP)", 2, 2, 4, 20, external=True, anti_affinity=True)
OBJECT_STORAGE = Role("swift", "Swift object storage", 1, 4, 16, 45)
COMPUTE = Role("compute", "nova-compute for a compute cluster", 1, 4, 8, 20)
DHCP = Role("dhcp", "Neutron DHCP node (DVS mode)", 2, 4, 16, 10, anti_affinity=True)
COMPACT_CONTROL = Role("control", "All OpenStack services (compact)", 1, 8, 32, 200, external=True)

HA_MINIMUM_MANAGEMENT_ADDRESSES = 15
HA_MINIMUM_EXTERNAL_ADDRESSES = 2
