"""What each kind of step does, by kind: the vCenter bring-up, the OpenStack configuration, the
repairs and the teardown. See the modules for the rules every step keeps (idempotent, adopt what exists)."""

from deployments.engine.steps import bringup, openstack, repair, teardown

KINDS = {**bringup.KINDS, **openstack.KINDS, **repair.KINDS, **teardown.KINDS}
