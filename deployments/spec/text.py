"""The constrained text types of a spec. Everything a spec holds ends up in generated configuration
(kolla-ansible's globals.yml and passwords.yml, oslo.config INI files, Keystone's LDAP domain file), so a
value is refused here, with the field's path and how to fix it, before any renderer sees it:

- ConfigText: one line of text, no control or format characters (no line or paragraph separators, no
  NUL, no bidirectional overrides, no lone surrogates), no Jinja2 delimiters, since kolla-ansible
  passes every variable and override file through Ansible's templating, and no backslash before a
  dollar sign, which oslo.config turns into a plain '$' whatever the quoting;
- Host: a host name or an IP address; LdapUrl: ldap:// or ldaps:// with host[:port]; LdapFilter: an
  RFC 4515 search filter; PemCertificates: X.509 certificates in PEM.
The renderers encode for their format on top of this (deployments/engine/kolla/encode.py)."""

import ipaddress
import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field, SecretStr
from pydantic_core import PydanticCustomError

# Unicode categories no configuration value may hold: controls (tab, CR, LF, NUL, DEL, NEL ...), format
# characters (zero-width, bidirectional overrides), lone surrogates, line and paragraph separators.
FORBIDDEN_CATEGORIES = {"Cc": "a control character", "Cf": "an invisible format character",
                        "Cs": "a lone surrogate", "Zl": "a line separator", "Zp": "a paragraph separator"}
JINJA_MARKERS = ("{{", "{%", "{#")
MAX_TEXT = 255
MAX_SECRET = 255

HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


def _describe(char: str) -> str:
    names = {"\n": "a line break (\\n)", "\r": "a carriage return (\\r)", "\t": "a tab", "\x00": "a NUL character"}
    return names.get(char) or f"{FORBIDDEN_CATEGORIES[unicodedata.category(char)]} (U+{ord(char):04X})"


def control_problem(value: str) -> str | None:
    """What makes `value` more than one line of plain text (a control or format character), or None."""
    for index, char in enumerate(value):
        if unicodedata.category(char) in FORBIDDEN_CATEGORIES:
            return f"contains {_describe(char)} at character {index + 1}"
    return None


def text_problem(value: str) -> str | None:
    """Why `value` cannot be written into a configuration file, or None."""
    problem = control_problem(value)
    if problem:
        return (f"{problem}: it is written into OpenStack's configuration files, so it must be a single line of "
                "text without control characters. Remove it.")
    if "\\$" in value:
        return (f"contains a backslash before a dollar sign (character {value.index(chr(92) + '$') + 1}), which "
                "oslo.config always reads as an escaped '$': OpenStack's configuration cannot hold it. In a regular "
                "expression write [$] for a literal dollar sign; elsewhere remove the backslash.")
    for marker in JINJA_MARKERS:
        if marker in value:
            return (f"contains '{marker}', which kolla-ansible's templates would evaluate as Jinja2 "
                    f"(character {value.index(marker) + 1}). Remove it.")
    return None


def _config_text(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _secret_text(value: SecretStr) -> SecretStr:
    secret = value.get_secret_value()
    if len(secret) > MAX_SECRET:
        raise ValueError(f"is too long: at most {MAX_SECRET} characters")
    problem = text_problem(secret)
    if problem:
        raise ValueError(problem.replace("Remove it.", "Choose another password."))
    return value


# The one text type of a spec: every string field that reaches a configuration file is one of these.
ConfigText = Annotated[str, Field(max_length=MAX_TEXT), AfterValidator(_config_text)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_TEXT), AfterValidator(_config_text)]
Secret = Annotated[SecretStr, AfterValidator(_secret_text)]


def _hostname(value: str) -> str:
    if not HOSTNAME.fullmatch(value):
        raise ValueError("is not a valid host name: letters, digits and hyphens in dot-separated labels, e.g. openstack.example.com")
    return value.lower()


def _host(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if not HOSTNAME.fullmatch(value):
        raise ValueError("is not a host name or an IP address: use letters, digits and hyphens in dot-separated labels "
                         "(e.g. vcenter.example.com) or an address (e.g. 192.0.2.10)")
    return value.lower()


Hostname = Annotated[str, Field(max_length=253), AfterValidator(_config_text), AfterValidator(_hostname)]
Host = Annotated[str, Field(min_length=1, max_length=253), AfterValidator(_config_text), AfterValidator(_host)]


# --- LDAP ------------------------------------------------------------------------------------------

LDAP_URL = re.compile(r"^(?P<scheme>ldaps?)://(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:/\[\]]+))(?::(?P<port>\d{1,5}))?/?$")
LDAP_URL_HELP = "use ldap://host[:port] or ldaps://host[:port], e.g. ldaps://ad.example.com:636"


def _ldap_url(value: str) -> str:
    found = LDAP_URL.fullmatch(value)
    if not found:  # the type a pattern gives: the wizard words it for its own field
        raise PydanticCustomError("string_pattern_mismatch",
                                  f"is not an LDAP server URL: {LDAP_URL_HELP} (no path, query or spaces)")
    if found["v6"]:
        try:
            ipaddress.IPv6Address(found["v6"])
        except ValueError:
            raise ValueError(f"[{found['v6']}] is not an IPv6 address: {LDAP_URL_HELP}") from None
    else:
        try:
            _host(found["host"])
        except ValueError:
            raise ValueError(f"'{found['host']}' is not a host name or an IP address: {LDAP_URL_HELP}") from None
    if found["port"] and not 1 <= int(found["port"]) <= 65535:
        raise ValueError(f"port {found['port']} is not a TCP port (1-65535): {LDAP_URL_HELP}")
    return value


# The schema states the shape (for API clients and fuzzers); _ldap_url checks it with messages of its own.
LDAP_URL_SCHEMA = r"^ldaps?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(:[0-9]{1,5})?/?$"
LdapUrl = Annotated[str, Field(max_length=MAX_TEXT, json_schema_extra={"pattern": LDAP_URL_SCHEMA}),
                    AfterValidator(_config_text), AfterValidator(_ldap_url)]

# RFC 4515: attribute descriptions (with options) or OIDs; matching rules likewise.
_ATTRIBUTE = re.compile(r"(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+)(?:;[A-Za-z0-9-]+)*\Z")
_EXTENSIBLE = re.compile(r"(?:(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+)(?:;[A-Za-z0-9-]+)*(?::[dD][nN])?"
                         r"(?::(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+))?"
                         r"|(?::[dD][nN])?:(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+))\Z")
_ESCAPE = re.compile(r"\\[0-9A-Fa-f]{2}")
MAX_FILTER = 1024
MAX_FILTER_DEPTH = 16
LDAP_FILTER_HELP = "e.g. (&(objectClass=user)(memberOf=CN=OpenStack,OU=Groups,DC=example,DC=com))"


class _FilterError(ValueError):
    pass


def _value(text: str, start: int, *, stars: bool) -> None:
    """An assertion value: '(', ')', '*' (unless a substring) and '\\' only as \\XX escapes."""
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            if not _ESCAPE.match(text, index):
                raise _FilterError(f"the backslash at character {start + index + 1} must start a two-digit hex escape "
                                   "such as \\2a (write \\5c for a backslash)")
            index += 3
            continue
        if char == "*" and not stars:
            raise _FilterError(f"'*' at character {start + index + 1} is only allowed with '=': escape it as \\2a")
        if char in "()":
            raise _FilterError(f"'{char}' at character {start + index + 1} must be escaped in a value as "
                               f"\\{ord(char):02x}")
        index += 1


def _item(text: str, start: int) -> None:
    equal = text.find("=")
    if equal < 0:
        raise _FilterError(f"the filter item '{text}' at character {start + 1} has no '=': write attribute=value")
    before, value = text[:equal], text[equal + 1:]
    if before.endswith(":"):  # extensible match, e.g. memberOf:1.2.840.113556.1.4.1941:=CN=...
        if not _EXTENSIBLE.match(before[:-1]):
            raise _FilterError(f"'{before}=' at character {start + 1} is not an extensible match (attribute[:dn][:rule]:=)")
        _value(value, start + equal + 1, stars=False)
        return
    operator = before[-1:] if before[-1:] in ("~", ">", "<") else ""
    attribute = before[:-1] if operator else before
    if not _ATTRIBUTE.match(attribute):
        raise _FilterError(f"'{attribute}' at character {start + 1} is not an attribute name (letters, digits and "
                           "hyphens, starting with a letter, or an OID)")
    _value(value, start + equal + 1, stars=not operator)


def _filter(text: str, index: int, depth: int) -> int:
    """Parse one "(...)" at `index`; the index after it."""
    if depth > MAX_FILTER_DEPTH:
        raise _FilterError(f"nests more than {MAX_FILTER_DEPTH} levels deep")
    if index >= len(text) or text[index] != "(":
        raise _FilterError(f"expected '(' at character {index + 1}: a filter is wrapped in parentheses")
    index += 1
    if index < len(text) and text[index] in "&|":
        operator = text[index]
        index += 1
        count = 0
        while index < len(text) and text[index] == "(":
            index = _filter(text, index, depth + 1)
            count += 1
        if not count:
            raise _FilterError(f"'{operator}' at character {index} needs at least one (filter) after it")
    elif index < len(text) and text[index] == "!":
        index = _filter(text, index + 1, depth + 1)
    else:
        end = index
        while end < len(text) and text[end] not in "()":
            end += 1
        if end < len(text) and text[end] == "(":
            raise _FilterError(f"'(' at character {end + 1} inside a value must be escaped as \\28")
        _item(text[index:end], index)
        index = end
    if index >= len(text) or text[index] != ")":
        raise _FilterError(f"unbalanced parentheses: expected ')' at character {index + 1}")
    return index + 1


def ldap_filter_problem(text: str) -> str | None:
    if len(text) > MAX_FILTER:
        return f"is too long: at most {MAX_FILTER} characters"
    try:
        end = _filter(text, 0, 1)
        if end != len(text):
            raise _FilterError(f"unexpected text after the filter's closing parenthesis at character {end + 1}")
    except _FilterError as exc:
        return f"is not an LDAP search filter (RFC 4515): {exc}. {LDAP_FILTER_HELP}"
    return None


def _ldap_filter(value: str) -> str:
    if value:
        problem = ldap_filter_problem(value)
        if problem:
            raise ValueError(problem)
    return value


LdapFilter = Annotated[str, Field(max_length=MAX_FILTER), AfterValidator(_config_text), AfterValidator(_ldap_filter)]


# --- certificates ------------------------------------------------------------------------------------

MAX_PEM = 65_536


def _pem_certificates(value: str) -> str:
    """One or more X.509 certificates in PEM. The renderer writes them re-encoded from the parsed
    certificates, so nothing else in the text reaches a file."""
    if not value:
        return value
    if len(value) > MAX_PEM or not value.isascii():
        raise ValueError(f"is not PEM text: paste the CA certificate(s) as ASCII PEM, at most {MAX_PEM} characters")
    from cryptography import x509

    try:
        certificates = x509.load_pem_x509_certificates(value.encode())
    except ValueError:
        raise ValueError("is not a PEM certificate: paste the CA certificate, from -----BEGIN CERTIFICATE----- "
                         "to -----END CERTIFICATE-----") from None
    outside = re.sub(r"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]*-----END CERTIFICATE-----", "", value)
    if outside.strip() or len(certificates) > 16:
        raise ValueError("must hold only PEM certificates (at most 16), nothing before, between or after them")
    return value


PemCertificates = Annotated[str, AfterValidator(_pem_certificates)]


def pem_reencoded(value: str) -> str:
    """The certificates of a validated PemCertificates value, written out anew."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return "".join(c.public_bytes(Encoding.PEM).decode() for c in x509.load_pem_x509_certificates(value.encode()))
