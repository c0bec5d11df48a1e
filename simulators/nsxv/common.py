"""Values shared by the model, the edge documents and the server: versions and NSX error codes."""

import re
import zlib
from dataclasses import dataclass

from simulators.nsxv.render import NsxFault

DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 256, 1024  # RAML: "Default is 256. Allowed range is 1-1024."
# NSX's "object not found" error (core-services 202); the other codes here are the emulator's own.
OBJECT_NOT_FOUND, BAD_PARAMETER = 202, 220


def not_found(object_id: str, status: int = 404) -> NsxFault:
    return NsxFault(
        status,
        OBJECT_NOT_FOUND,
        f"The requested object : {object_id} could not be found. Object identifiers are case sensitive.",
    )


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    build: int

    @classmethod
    def parse(cls, text: str) -> "Version":
        """'6.4.5' or '6.4.5.13282012' / '6.4.5-13282012'; without a build, a stable made-up one."""
        match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)(?:[.-](\d+))?", text.strip())
        if not match:
            raise ValueError(f"{text!r} is not an NSX version like 6.4.5")
        major, minor, patch, build = match.groups()
        return cls(
            int(major), int(minor), int(patch), int(build) if build else 4000000 + zlib.crc32(text.encode()) % 9000000
        )

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"
