"""JWT: the refresh endpoint with its throttle, and revoking a user's refresh tokens when the password changes."""

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.views import TokenRefreshView

from . import logins


class TokenRefreshApi(TokenRefreshView):
    """simplejwt's refresh (rotating: the token sent is spent), refused with 429 after too many bad tokens."""

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        wait = logins.refresh_refused_for(request)
        if wait is not None:
            raise Throttled(wait=wait)
        try:
            return super().post(request, *args, **kwargs)
        except (InvalidToken, AuthenticationFailed, ObjectDoesNotExist) as exc:
            logins.refresh_failed(request)
            raise InvalidToken(_refusal(exc)) from exc


def _refusal(exc: Exception) -> str:
    if isinstance(exc, ObjectDoesNotExist):  # simplejwt looks the token's user up with .get(): it may be gone
        reason = "its user no longer exists"
    else:
        detail = getattr(exc, "detail", "")
        reason = str(detail.get("detail", "") if isinstance(detail, dict) else detail).rstrip(".")
    return (
        f"The refresh token was refused ({reason}): it is invalid, expired, revoked or already used. "
        "Log in again at /api/v1/token/."
    )


def refresh_tokens_revoke(user: AbstractBaseUser) -> int:
    """Blacklist every refresh token of this user that is still live; returns how many."""
    live = OutstandingToken.objects.filter(
        user_id=user.pk, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    )
    spent = [BlacklistedToken(token=token) for token in live]
    return len(BlacklistedToken.objects.bulk_create(spent, ignore_conflicts=True))
