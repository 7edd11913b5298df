"""Contacts (who wrote to the desk) and their companies."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.http import HttpRequest
from ninja import P, PathEx, Query, Router
from ninja.errors import HttpError

from casegate.api.pagination import PageParams, paginate
from casegate.api.requests import AgentRequest
from casegate.api.schemas import (
    MAX_ID,
    CompanyDetail,
    CompanyFilters,
    CompanyOut,
    ContactDetail,
    ContactFilters,
    ContactOut,
    Page,
    responses,
)
from casegate.desk.models import Company, Contact
from casegate.desk.visibility import case_scope

router = Router(tags=["contacts"])

ContactId = PathEx[int, P(ge=1, le=MAX_ID, description="the contact's id")]
CompanyId = PathEx[int, P(ge=1, le=MAX_ID, description="the company's id")]


def _contact(contact: Contact) -> dict[str, Any]:
    return {"id": contact.pk, "address": contact.address, "name": contact.name,
            "language": contact.language,
            "company": contact.company.domain if contact.company else None,
            "created_at": contact.created_at}


def _company(company: Company) -> dict[str, Any]:
    return {"id": company.pk, "domain": company.domain, "name": company.name,
            "created_at": company.created_at}


@router.get("/contacts", response=responses({200: Page[ContactOut]}, 400, 422))
def list_contacts(request: HttpRequest, filters: Query[ContactFilters], page: Query[PageParams]
                  ) -> dict[str, Any]:
    """Contacts, newest first."""
    rows = Contact.objects.select_related("company")
    if filters.q:
        rows = rows.filter(Q(address__icontains=filters.q) | Q(name__icontains=filters.q))
    if filters.company is not None:
        rows = rows.filter(company__domain=filters.company.strip().lower())
    return paginate(rows, page, lambda contacts: [_contact(c) for c in contacts])


@router.get("/contacts/{contact_id}", response=responses({200: ContactDetail}, 404, 422))
def get_contact(request: AgentRequest, contact_id: ContactId) -> dict[str, Any]:
    """A contact with the numbers of their cases (those the caller may see) and leads."""
    contact = Contact.objects.select_related("company").filter(pk=contact_id).first()
    if contact is None:
        raise HttpError(404, f"there is no contact {contact_id}")
    cases = contact.cases.filter(case_scope(request.auth))
    return {**_contact(contact),
            "cases": list(cases.order_by("-id").values_list("id", flat=True)),
            "leads": list(contact.leads.order_by("-id").values_list("id", flat=True))}


@router.get("/companies", response=responses({200: Page[CompanyOut]}, 400, 422))
def list_companies(request: HttpRequest, filters: Query[CompanyFilters], page: Query[PageParams]
                   ) -> dict[str, Any]:
    """Companies, newest first."""
    rows = Company.objects.all()
    if filters.q:
        rows = rows.filter(Q(domain__icontains=filters.q) | Q(name__icontains=filters.q))
    return paginate(rows, page, lambda companies: [_company(c) for c in companies])


@router.get("/companies/{company_id}", response=responses({200: CompanyDetail}, 404, 422))
def get_company(request: HttpRequest, company_id: CompanyId) -> dict[str, Any]:
    """A company with the ids of its contacts."""
    company = Company.objects.filter(pk=company_id).first()
    if company is None:
        raise HttpError(404, f"there is no company {company_id}")
    return {**_company(company),
            "contacts": list(company.contacts.order_by("id").values_list("id", flat=True))}
