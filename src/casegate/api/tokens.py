"""REST API tokens: created for a user, shown once, stored only as their SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from casegate.api.models import ApiToken
from casegate.errors import CasegateError

KEY_PREFIX = "cg_"
PREFIX_LENGTH = 12  # ApiToken.prefix: "cg_" and 9 random characters, shown by list_tokens
TOUCH_INTERVAL = timedelta(minutes=1)
_MAX_KEY_LENGTH = 200


class TokenError(CasegateError):
    """A token operation was refused."""


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_token(username: str, name: str = "") -> str:
    """A new key for the active user ``username``; only its digest and prefix are kept."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise TokenError(f"there is no user {username!r}; create one first "
                         "(casegate user add, or casegate agent add)")
    if not user.is_active:
        raise TokenError(f"the user {username!r} is inactive; activate them to give them a token")
    for _ in range(5):  # a prefix names one token, so a (very unlikely) clash draws again
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        prefix = key[:PREFIX_LENGTH]
        if not ApiToken.objects.filter(prefix=prefix).exists():
            ApiToken.objects.create(user=user, name=name[:100], key_sha256=_digest(key),
                                    prefix=prefix)
            return key
    raise TokenError("could not draw an unused token prefix; try again")


def user_for(key: str) -> Any:
    """The active user a key belongs to, or None; notes the use at most once a minute."""
    if not key.startswith(KEY_PREFIX) or len(key) > _MAX_KEY_LENGTH or not key.isascii():
        return None
    token = (ApiToken.objects.select_related("user")
             .filter(key_sha256=_digest(key), user__is_active=True).first())
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= TOUCH_INTERVAL:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def revoke_token(prefix: str) -> None:
    """Delete the token whose prefix (as ``list_tokens`` shows it) is ``prefix``."""
    deleted, _ = ApiToken.objects.filter(prefix=prefix.strip()).delete()
    if not deleted:
        raise TokenError(f"there is no token with the prefix {prefix!r}; "
                         "casegate token list shows them")


def list_tokens() -> list[dict[str, str | None]]:
    """Every token: prefix, username, name and when it was created and last used."""
    return [
        {"prefix": t.prefix, "username": t.user.get_username(), "name": t.name,
         "created_at": t.created_at.isoformat(),
         "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None}
        for t in ApiToken.objects.select_related("user").order_by("id")
    ]
