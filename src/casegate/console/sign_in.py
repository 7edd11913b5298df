"""Sign-in with a limit on failures, per account and per client, for the console and the
admin site alike."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpResponse
from django.utils.translation import gettext as _

from casegate.console import throttle

PER_ACCOUNT = throttle.Limit("sign-in failures per account", 5, timedelta(minutes=15))
PER_CLIENT = throttle.Limit("sign-in failures per client", 20, timedelta(minutes=15))
THROTTLED = "throttled"


class ThrottledSignIn:
    """Refuses every sign-in, right password or not, while the account or the client has
    too many recent failures; counts each failure."""

    request: Any
    cleaned_data: dict[str, Any]

    def clean(self) -> dict[str, Any]:
        account = (self.cleaned_data.get("username") or "").strip().lower()
        client = throttle.client_address(self.request)
        retry_at = throttle.retry_after((PER_ACCOUNT, account), (PER_CLIENT, client))
        if retry_at is not None:
            raise ValidationError(
                _("Too many failed sign-ins for this account or from your network address. "
                  "Try again after %(time)s."), code=THROTTLED, params={"time": retry_at})
        try:
            cleaned = super().clean()  # type: ignore[misc]
        except ValidationError as exc:
            # The admin site answers "invalid_login" to a staff-less user whose password was
            # right (user_cache is set then): that is no guess, so it is not counted.
            if exc.code == "invalid_login" and getattr(self, "user_cache", None) is None:
                throttle.record(PER_ACCOUNT, account, self.request)
                throttle.record(PER_CLIENT, client, self.request)
            raise
        throttle.forget(PER_ACCOUNT, account)
        return cleaned


class SignInForm(ThrottledSignIn, AuthenticationForm):
    pass


class AdminSignInForm(ThrottledSignIn, AdminAuthenticationForm):
    pass


class SignInView(LoginView):
    template_name = "console/login.html"
    authentication_form = SignInForm

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        throttled = form.has_error(NON_FIELD_ERRORS, THROTTLED)
        return self.render_to_response(self.get_context_data(form=form, throttled=throttled),
                                       status=429 if throttled else 200)
