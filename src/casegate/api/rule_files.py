"""The desk's sets kept in versions (triggers, automations, webhooks, macros) over the API,
for the mail-settings administrator, as the command line has them: the whole set as YAML,
replaced by a YAML text all or nothing (or only checked), its versions, and a rollback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router
from ninja.errors import HttpError

from casegate.api.schemas import (
    RollbackIn,
    RuleFileIn,
    RuleFileOut,
    RuleImportOut,
    VersionOut,
    responses,
)
from casegate.desk.kept_sets import KEPT_SETS, KeptSet
from casegate.desk.rule_files import ImportResult
from casegate.errors import CasegateError

router = Router(tags=["rule files"])


def _named(name: str, view: Callable[..., Any]) -> Callable[..., Any]:
    """``view`` under ``name``, its operation id in the schema."""
    view.__name__ = view.__qualname__ = name
    return view


def _answer(result: ImportResult) -> dict[str, Any]:
    return {"diff": result.diff, "version": result.version, "rules": result.rules,
            "notes": result.notes}


def _add_routes(kind: str, kept: KeptSet) -> None:
    def export(request: HttpRequest) -> dict[str, str]:
        return {"text": kept.export()}

    def replace(request: HttpRequest, body: RuleFileIn, dry_run: Query[bool] = False
                ) -> dict[str, Any]:
        try:
            return _answer(kept.import_(body.text, "body", dry_run=dry_run))
        except CasegateError as exc:
            raise HttpError(400, str(exc)) from None

    def versions(request: HttpRequest) -> list[dict[str, Any]]:
        return [{"version": v.number, "at": v.created_at, "actor": v.actor,
                 "summary": v.summary} for v in kept.history()]

    def roll_back(request: HttpRequest, body: RollbackIn) -> dict[str, Any]:
        try:
            version = kept.rollback(body.version)
        except CasegateError as exc:
            raise HttpError(400, str(exc)) from None
        latest = kept.history(1)  # the set as it is now
        return _answer(ImportResult("", version.number if version else None,
                                    len(getattr(latest[0], kind)) if latest else 0))

    export.__doc__ = f"The {kind} as YAML, as `casegate {kept.noun} export` prints them."
    replace.__doc__ = (f"Make the {kind} the text's, as one version, or (``dry_run``) only "
                       "say what would change. Nothing changes when any is refused; the "
                       "problems name the text's lines.")
    versions.__doc__ = f"The latest versions of the {kind}, newest first."
    roll_back.__doc__ = f"Make the {kind} what they were right after a version, as a new one."
    router.get(f"/{kind}/export", response=responses({200: RuleFileOut}, 403))(
        _named(f"export_{kind}", export))
    router.put(f"/{kind}/import", response=responses({200: RuleImportOut}, 400, 403, 422))(
        _named(f"import_{kind}", replace))
    router.get(f"/{kind}/versions", response=responses({200: list[VersionOut]}, 403))(
        _named(f"list_{kind[:-1]}_versions", versions))
    router.post(f"/{kind}/rollback", response=responses({200: RuleImportOut}, 400, 403, 422))(
        _named(f"roll_back_{kind}", roll_back))


for _kind, _kept in KEPT_SETS.items():
    _add_routes(_kind, _kept)
