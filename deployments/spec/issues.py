from dataclasses import asdict, dataclass

BLOCKING = "blocking"
ADVISORY = "advisory"  # shown, and must be acknowledged; does not stop a deployment


@dataclass(frozen=True)
class Issue:
    path: str  # JSON path of the input to fix, e.g. "management_network.ip_ranges.0"
    code: str
    message: str  # what is wrong and how to fix it
    severity: str = BLOCKING

    @property
    def blocking(self) -> bool:
        return self.severity == BLOCKING

    def as_dict(self) -> dict:
        return asdict(self)
