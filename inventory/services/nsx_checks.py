"""NSX for vSphere facts the wizard and pre-flight checks rely on."""

from inventory.clients.nsx import MINIMUM_NSX_VERSION


def parse_version(text: str) -> tuple[int, int, int]:
    """"6.4.5" (or "6.4.5 (build 1234)") -> (6, 4, 5)."""
    numbers = []
    for piece in text.split()[0].split(".")[:3] if text.strip() else []:
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        numbers.append(int(digits or 0))
    return tuple(numbers + [0] * (3 - len(numbers)))


def meets_minimum_version(text: str) -> bool:
    return parse_version(text) >= MINIMUM_NSX_VERSION
