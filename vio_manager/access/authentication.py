"""DRF authentication by API token: `Authorization: Token <value>` (or `Bearer <value>`)."""

from rest_framework import authentication, exceptions

from vio_manager.access import tokens
from vio_manager.access.roles import remember_role

SCHEMES = ("token", "bearer")


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """The token, its user and the user's role together: from the token cache (no query), else one
    indexed query (vio_manager.access.tokens)."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() not in SCHEMES:
            return None  # another scheme, or none: the next class (session) may answer
        value = value.strip()
        if not value or " " in value:
            raise exceptions.AuthenticationFailed("Send the token as 'Authorization: Token <value>'.", code="invalid_token")
        try:
            token = tokens.authenticate(value)
        except tokens.TokenRefused as exc:
            raise exceptions.AuthenticationFailed(exc.message, code=exc.code) from None
        remember_role(token.user, token.user_role)
        return token.user, token

    def authenticate_header(self, request):
        # Makes DRF answer 401 (not 403) to requests without credentials.
        return 'Token realm="api"'
