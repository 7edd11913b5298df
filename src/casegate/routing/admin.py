from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from casegate.routing.models import AddressList, Route, Rule, RuleVersion


class ReadOnly(admin.ModelAdmin):
    """Rules change through the CLI, the console or the API, where every change is
    validated and recorded as a version; the admin site only shows them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


admin.site.register(
    Rule, ReadOnly,
    list_display=["position", "match_type", "match_value", "rewrite", "rewrite_value",
                  "action", "apply_to", "enabled"],
)
admin.site.register(RuleVersion, ReadOnly, list_display=["number", "created_at", "actor",
                                                          "summary"])
admin.site.register([AddressList, Route])
