"""The console's views check the privilege of the user who asks (:mod:`casegate.access`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from casegate.access import can


def require(privilege: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A view only for signed-in users holding ``privilege``: others log in or get 403."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not can(request.user, privilege):
                raise PermissionDenied(f"this page needs the {privilege.replace('_', ' ')} "
                                       "privilege")
            return view(request, *args, **kwargs)

        return checked

    return decorate
