"""Intakes' survey, signature and texts (the mail-settings administrator's), and agents'
signatures (an agent's own, or anyone's for the mail-settings administrator)."""

from __future__ import annotations

from typing import Any

from ninja import P, PathEx, Router
from ninja.errors import HttpError

from casegate.access import can
from casegate.api.requests import AgentRequest
from casegate.api.schemas import (
    MAX_ID,
    AgentOut,
    AgentPatch,
    DeskTextValue,
    IntakeOut,
    IntakePatch,
    IntakeTextIn,
    responses,
)
from casegate.desk.changes import DeskError
from casegate.desk.models import Agent, Intake
from casegate.desk.services import configure_intake, intake_as_dict
from casegate.desk.signatures import set_agent_signature
from casegate.desk.texts import set_text

intakes = Router(tags=["intakes"])
agents = Router(tags=["agents"])

IntakeId = PathEx[int, P(ge=1, le=MAX_ID, description="the intake's id")]
Language = PathEx[str, P(max_length=8, description="en, fr, pt, id, he or ar")]
Username = PathEx[str, P(max_length=150, description="the agent's user name")]


def _intake(intake_id: int) -> Intake:
    intake = Intake.objects.filter(pk=intake_id).first()
    if intake is None:
        raise HttpError(404, f"there is no intake {intake_id}")
    return intake


@intakes.get("/intakes/{intake_id}", response=responses({200: IntakeOut}, 404, 422))
def get_intake(request: AgentRequest, intake_id: IntakeId) -> dict[str, Any]:
    """An intake's settings and the texts it words itself."""
    return intake_as_dict(_intake(intake_id))


@intakes.patch("/intakes/{intake_id}", response=responses({200: IntakeOut}, 400, 404, 422))
def update_intake(request: AgentRequest, intake_id: IntakeId, changes: IntakePatch
                  ) -> dict[str, Any]:
    """Turn the satisfaction survey on or off; set the signature."""
    fields = changes.model_dump(exclude_unset=True)
    try:
        intake = configure_intake(_intake(intake_id), fields.get("survey"),
                                  fields.get("signature"))
    except DeskError as exc:
        raise HttpError(400, str(exc)) from None
    return intake_as_dict(intake)


@intakes.put("/intakes/{intake_id}/texts/{kind}/{language}",
             response=responses({200: IntakeOut}, 400, 404, 422))
def set_intake_text(request: AgentRequest, intake_id: IntakeId, kind: DeskTextValue,
                    language: Language, text: IntakeTextIn) -> dict[str, Any]:
    """The intake's own acknowledgement or survey text in one language (placeholders as in
    macros; a survey's needs ``{{survey.link}}``); an empty body: the built-in text again."""
    intake = _intake(intake_id)
    try:
        set_text(intake, kind, language, text.subject, text.body)
    except DeskError as exc:
        raise HttpError(400, str(exc)) from None
    return intake_as_dict(intake)


@agents.patch("/agents/{username}", response=responses({200: AgentOut}, 400, 403, 404, 422))
def update_agent(request: AgentRequest, username: Username, changes: AgentPatch
                 ) -> dict[str, Any]:
    """Set an agent's signature: one's own, or anyone's as a mail-settings administrator."""
    own = username == request.auth.get_username() and can(request.auth, "work_cases")
    if not own and not can(request.auth, "mail_settings"):
        raise HttpError(403, "an agent sets their own signature only")
    if not Agent.objects.filter(user__username=username).exists():
        raise HttpError(404, f"there is no agent {username!r}")
    try:
        agent = set_agent_signature(username, changes.signature)
    except DeskError as exc:
        raise HttpError(400, str(exc)) from None
    user = agent.user
    return {"username": user.get_username(), "email": user.email,
            "name": user.get_full_name(), "teams": agent.teams, "signature": agent.signature}
