"""The request an API operation gets once :class:`~casegate.api.app.TokenAuth` let it in."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest


class AgentRequest(HttpRequest):
    """``auth`` is the user the bearer token belongs to."""

    auth: User
