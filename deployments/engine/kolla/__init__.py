"""The kolla-ansible 2025.1 (20.x) bundle that configures OpenStack on the planned VMs."""

from deployments.engine.kolla.check import check_bundle, known_passwords, known_variables
from deployments.engine.kolla.facts import KollaBundleError, KollaFacts, facts_from_inventory
from deployments.engine.kolla.render import render_bundle

__all__ = ["KollaBundleError", "KollaFacts", "check_bundle", "facts_from_inventory", "known_passwords",
           "known_variables", "render_bundle"]
