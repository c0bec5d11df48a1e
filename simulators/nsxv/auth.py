"""Basic authentication with exactly one user, and the JSON Web Tokens of NSX 6.4 (AUTHTOKEN)."""

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


class Authenticator:
    def __init__(self, username: str, password: str):
        self.username = username
        self._password = password
        self._token_key = secrets.token_bytes(32)  # tokens die with the process, as a restart would

    def user_for(self, authorization: str | None) -> str | None:
        """The authenticated user name, or None when the header is missing or wrong."""
        if not authorization:
            return None
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
            ok_user = hmac.compare_digest(user.encode(), self.username.encode())
            ok_password = hmac.compare_digest(password.encode(), self._password.encode())
            return user if ok_user and ok_password else None
        if scheme.upper() == "AUTHTOKEN":
            return self._verify_token(credentials.strip())
        return None

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
