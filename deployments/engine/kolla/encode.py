"""Encoding of values for the files of the bundle, per format. Nothing is written by string templating of
raw values: YAML goes through PyYAML; INI values are encoded for every reader on their way to the service.

An override file (config/nova/<host>/nova.conf, glance-api.conf, cinder-volume.conf, nsx.ini) is read by:
  1. Ansible's Jinja2 templating (kolla's merge_configs templates every source),
  2. oslo.config's iniparser in merge_configs, which writes "key = value" out again,
  3. oslo.config in the service: iniparser, then $-substitution of the value.
Keystone's domain files are copied with `template`: steps 1 and 3 only. What each reader does to a value
(oslo_config/iniparser.py, cfg.ConfigOpts._substitute):
  - a line break ends the value (refused: values are single-line text, text.py);
  - leading and trailing white space is stripped, and one pair of matching quotes around the value is
    removed: such a value is written inside one pair of double quotes per iniparser pass;
  - "$name" and "${name}" are replaced by other options' values: "$" is written "$$";
  - "{{", "{%" and "{#" start Jinja2 (refused: text.py);
  - '#' and ';' only start a comment at the beginning of a line, '=' and ':' only split the first one:
    nothing to encode after "key = ".
"""

import re
from dataclasses import dataclass

import yaml

from deployments.engine.kolla.facts import KollaBundleError
from deployments.spec.text import text_problem

MERGED = 2  # iniparser passes of a kolla-merged override file
TEMPLATED = 1  # iniparser passes of a file kolla only templates (Keystone domain files)
KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SECTION = re.compile(r"[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Password:
    """A value kolla fills in at deploy time from passwords.yml (Ansible variable `variable`): written as a
    Jinja2 expression that encodes it like any other value, so the password stays out of the file."""

    variable: str


def checked(value: str, what: str) -> str:
    """`value` if it can be written into a configuration file, else KollaBundleError naming `what`."""
    if not isinstance(value, str):
        raise KollaBundleError(f"{what} must be text, not {type(value).__name__}")
    problem = text_problem(value)
    if problem:
        raise KollaBundleError(f"{what} cannot be written into the kolla-ansible configuration: it {problem}")
    return value


def ini_value(value, passes: int, what: str = "a value") -> str:
    if isinstance(value, Password):
        if not KEY.fullmatch(value.variable):
            raise KollaBundleError(f"'{value.variable}' is not an Ansible variable name")
        quotes = '"' * passes
        return f"{quotes}{{{{ {value.variable} | replace('$', '$$') }}}}{quotes}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = checked(value, what).replace("$", "$$")
    if text != text.strip() or (len(text) >= 1 and text[0] in "\"'" and text[0] == text[-1]):
        text = '"' * passes + text + '"' * passes
    return text


def ini(sections: list[tuple[str, list[tuple[str, object]]]], *, passes: int) -> str:
    """oslo.config INI; a list value becomes one line per item (MultiStrOpt)."""
    out = []
    for section, options in sections:
        if not SECTION.fullmatch(section):
            raise KollaBundleError(f"'{section}' is not an INI section name")
        out.append(f"[{section}]")
        for key, value in options:
            if not KEY.fullmatch(key):
                raise KollaBundleError(f"'{key}' is not an option name")
            for item in value if isinstance(value, list) else [value]:
                out.append(f"{key} = {ini_value(item, passes, f'[{section}] {key}')}")
        out.append("")
    return "\n".join(out)


def _check_tree(data, path: str) -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            checked(key, f"the key {key!r} of {path or 'the file'}")
            _check_tree(value, f"{path}.{key}" if path else str(key))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            _check_tree(item, f"{path}.{index}")
    elif isinstance(data, str):
        checked(data, path)


def yaml_document(data: dict, *, check: bool = True) -> str:
    """YAML through PyYAML's emitter; with `check`, every string is refused unless it is single-line text
    without Jinja2 (Ansible templates variable values when it reads them)."""
    if check:
        _check_tree(data, "")
    return yaml.safe_dump(data, default_flow_style=False, sort_keys=False, width=1000, allow_unicode=False)
