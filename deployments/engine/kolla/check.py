"""Check a rendered bundle against the installed kolla-ansible 20.x: every variable globals.yml sets must be one
kolla-ansible defines, and passwords.yml must hold exactly kolla's password keys (plus VIO Manager's own)."""

import functools
import re
from importlib import metadata
from pathlib import Path

import yaml

from deployments.engine.kolla.passwords import EXTRA_KEYS

# The kolla-ansible release line this bundle is written for (2025.1 Epoxy).
KOLLA_ANSIBLE_SERIES = "20."
TOP_LEVEL_KEY = re.compile(r"^#?([a-z_][a-z0-9_]*):", re.MULTILINE)


class KollaAnsibleMissing(RuntimeError):
    pass


@functools.lru_cache(maxsize=1)
def kolla_share() -> Path:
    """<venv>/share/kolla-ansible of the installed kolla-ansible 20.x (the wheel's data files)."""
    try:
        dist = metadata.distribution("kolla-ansible")
    except metadata.PackageNotFoundError:
        raise KollaAnsibleMissing("kolla-ansible 20.x is not installed: pip install 'kolla-ansible>=20,<21'") from None
    if not dist.version.startswith(KOLLA_ANSIBLE_SERIES):
        raise KollaAnsibleMissing(f"kolla-ansible {dist.version} is installed; the bundle is for 20.x (2025.1)")
    for file in dist.files or ():
        if str(file).endswith("share/kolla-ansible/ansible/group_vars/all.yml"):
            return Path(dist.locate_file(file)).resolve().parents[2]
    raise KollaAnsibleMissing("kolla-ansible is installed without its share/kolla-ansible data files")


def _keys(path: Path, *, commented: bool = False) -> set[str]:
    text = path.read_text()
    if commented:  # etc_examples/kolla/globals.yml documents its variables as "#name: value"
        return set(TOP_LEVEL_KEY.findall(text))
    data = yaml.safe_load(text) or {}
    return set(data)


@functools.lru_cache(maxsize=1)
def known_variables() -> frozenset[str]:
    """group_vars/all.yml, group_vars/baremetal.yml, every role's defaults/main.yml and the example globals.yml."""
    share = kolla_share()
    names = set()
    for path in sorted((share / "ansible" / "group_vars").glob("*.yml")):
        names |= _keys(path)
    for path in sorted((share / "ansible" / "roles").glob("*/defaults/main.yml")):
        names |= _keys(path)
    names |= _keys(share / "etc_examples" / "kolla" / "globals.yml", commented=True)
    return frozenset(names)


@functools.lru_cache(maxsize=1)
def known_passwords() -> frozenset[str]:
    return frozenset(_keys(kolla_share() / "etc_examples" / "kolla" / "passwords.yml"))


def multinode_children() -> dict[str, tuple[str, ...]]:
    """[group:children] sections of kolla's ansible/inventory/multinode."""
    groups: dict[str, list[str]] = {}
    current = None
    for line in (kolla_share() / "ansible" / "inventory" / "multinode").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            name = line.strip("[]")
            current = name.removesuffix(":children") if name.endswith(":children") else None
            if current:
                groups[current] = []
        elif current:
            groups[current].append(line.split()[0])
    return {group: tuple(children) for group, children in groups.items()}


def check_bundle(bundle: dict[str, str]) -> list[str]:
    """Problems found, as sentences; [] when the bundle only uses what kolla-ansible 20.x defines."""
    problems = []
    for required in ("globals.yml", "passwords.yml", "inventory/multinode"):
        if required not in bundle:
            problems.append(f"{required} is missing from the bundle")
    passwords = known_passwords()
    try:
        variables = yaml.safe_load(bundle.get("globals.yml", "")) or {}
    except yaml.YAMLError as exc:
        return problems + [f"globals.yml is not valid YAML: {exc}"]
    if not isinstance(variables, dict):
        return problems + ["globals.yml must be a mapping of variable names to values"]
    known = known_variables()
    for name in variables:
        if name in passwords:
            problems.append(f"globals.yml sets '{name}', a password: it belongs in passwords.yml")
        elif name not in known:
            problems.append(f"globals.yml sets '{name}', which kolla-ansible 2025.1 does not define "
                            "(not in group_vars/all.yml, any role's defaults or the example globals.yml)")
    try:
        secrets = yaml.safe_load(bundle.get("passwords.yml", "")) or {}
    except yaml.YAMLError as exc:
        return problems + [f"passwords.yml is not valid YAML: {exc}"]
    for name in sorted(passwords - set(secrets)):
        problems.append(f"passwords.yml lacks '{name}', which kolla-ansible 2025.1 requires")
    for name in sorted(set(secrets) - passwords - set(EXTRA_KEYS)):
        problems.append(f"passwords.yml sets '{name}', which is not a kolla-ansible 2025.1 password")
    if str(variables.get("vmware_vcenter_insecure", "True")).lower() == "false" and "config/vmware_ca" not in bundle:
        problems.append("vmware_vcenter_insecure is False but config/vmware_ca (the vCenter CA for nova-compute) "
                        "is missing: give the pinned vCenter certificate")
    return problems
