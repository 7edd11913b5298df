"""Asking for a password reset link: limited per address and per client, answered in the
same time whether the address has an account or not, and mailed with a link to the
configured console address (``CASEGATE_CONSOLE_URL``), never to the ``Host:`` a request
named."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.views import PasswordResetView
from django.http import HttpResponse
from django.urls import reverse_lazy
from django.utils.translation import gettext as _

from casegate.config import get_config
from casegate.console import throttle

log = logging.getLogger("casegate.console")

PER_ADDRESS = throttle.Limit("password reset requests per address", 5, timedelta(hours=1))
PER_CLIENT = throttle.Limit("password reset requests per client", 20, timedelta(hours=1))
# Every valid request is answered this long after it arrived, whether a mail was queued
# or not (queueing one takes a transaction and an fsync), so the time tells nothing about
# the address.
ANSWER_SECONDS = 1.0


class _ResetForm(PasswordResetForm):
    def get_users(self, email: str) -> Iterator[Any]:
        # A mail-settings administrator decides where mail to any address goes (rules,
        # domains, transports), so a reset link mailed to a super administrator could be
        # read by one and turn mail settings into the host access only the super
        # administrator holds. Theirs is reset with `casegate user add`.
        return (user for user in super().get_users(email) if not user.is_superuser)


class ResetRequestView(PasswordResetView):
    form_class = _ResetForm
    template_name = "console/password_reset.html"
    email_template_name = "console/password_reset_email.txt"
    subject_template_name = "console/password_reset_subject.txt"
    success_url = reverse_lazy("console:password_reset_done")

    @property
    def extra_email_context(self) -> dict[str, Any]:  # type: ignore[override]
        return {"console_url": get_config().console_url}

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        address = form.cleaned_data["email"].strip().lower()
        client = throttle.client_address(self.request)
        retry_at = throttle.retry_after((PER_ADDRESS, address), (PER_CLIENT, client))
        if retry_at is not None:  # says nothing about the account, so answered at once
            form.add_error(None, _(
                "Too many password reset requests for this email address or from your "
                "network address. Try again after %(time)s.") % {"time": retry_at})
            return self.render_to_response(self.get_context_data(form=form), status=429)
        answer_at = time.monotonic() + ANSWER_SECONDS
        throttle.record(PER_ADDRESS, address, self.request)
        throttle.record(PER_CLIENT, client, self.request)
        response = super().form_valid(form)  # a mail only when the address has an account
        _wait_until(answer_at)
        return response


def _wait_until(moment: float) -> None:
    late = time.monotonic() - moment
    if late > 0:
        log.warning("console=password-reset answered_late_by=%.3fs", late)
    else:
        time.sleep(-late)
