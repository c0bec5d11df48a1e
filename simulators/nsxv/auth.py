"""Basic authentication with exactly one user, and the JSON Web Tokens of NSX 6.4 (AUTHTOKEN).

How a refusal is answered (server.py) depends on what failed, as on NSX-v:
- no Authorization header, or an invalid or expired token: 401 (RAML appendix: "An authorization
  header was expected. Request with invalid or missing NSX Manager Token.");
- a wrong user name or password: 403, without an NSX error body (PowerNSX users see
  "403 : Forbidden : Response Body: " for a wrong NSX password, issues #501 and #519).
"""

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AuthenticationFailed(Exception):
    """Why a request is refused: MISSING, BAD_TOKEN or BAD_CREDENTIALS."""

    MISSING, BAD_TOKEN, BAD_CREDENTIALS = "missing", "bad_token", "bad_credentials"

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Authenticator:
    def __init__(self, username: str, password: str):
        self.username = username
        self._password = password
        self._token_key = secrets.token_bytes(32)  # tokens die with the process, as a restart would

    def user_for(self, authorization: str | None) -> str:
        """The authenticated user name; AuthenticationFailed says why there is none."""
        if not authorization or not authorization.strip():
            raise AuthenticationFailed(AuthenticationFailed.MISSING)
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise AuthenticationFailed(AuthenticationFailed.BAD_CREDENTIALS) from None
            ok_user = hmac.compare_digest(user.encode(), self.username.encode())
            ok_password = hmac.compare_digest(password.encode(), self._password.encode())
            if not (ok_user and ok_password):
                raise AuthenticationFailed(AuthenticationFailed.BAD_CREDENTIALS)
            return user
        if scheme.upper() == "AUTHTOKEN":
            user = self._verify_token(credentials.strip())
            if user is None:
                raise AuthenticationFailed(AuthenticationFailed.BAD_TOKEN)
            return user
        raise AuthenticationFailed(AuthenticationFailed.MISSING)  # no scheme NSX knows: no credentials

    def issue_token(self, user: str, minutes: int) -> str:
        header = _b64url(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
        payload = _b64url(json.dumps({"sub": user, "exp": int(time.time()) + minutes * 60}).encode())
        signature = hmac.new(self._token_key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64url(signature)}"

    def _verify_token(self, token: str) -> str | None:
        try:
            header, payload, signature = token.split(".")
            expected = hmac.new(self._token_key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64url(signature)):
                return None
            claims = json.loads(_unb64url(payload))
        except (ValueError, binascii.Error):
            return None
        if claims.get("exp", 0) < time.time():
            return None
        return claims.get("sub")
