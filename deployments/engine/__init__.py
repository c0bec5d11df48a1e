"""The step runner and the idempotent steps (vcenter, nsx, openstack)."""
