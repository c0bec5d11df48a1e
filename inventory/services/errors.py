class ServiceError(Exception):
    """An operation the user asked for cannot be done; `field` names the input to fix, if any."""

    def __init__(self, message: str, *, code: str = "invalid", field: str | None = None):
        super().__init__(message)
        self.message, self.code, self.field = message, code, field


class CertificateNotReviewed(ServiceError):
    pass


class SyncAlreadyRunning(ServiceError):
    pass
