from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from casegate.directory.models import Account, Domain, Group, GroupMember


class ShowOnly:
    """The directory and the rules change through the CLI, the console or the API, where
    every change is checked (an address is normalised, never both an account and a routed
    address, a group's domain is the company's) and recorded; the admin site only shows
    them."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(ShowOnly, admin.ModelAdmin):  # type: ignore[misc]
    pass


class GroupMemberInline(ShowOnly, admin.TabularInline):  # type: ignore[misc]
    model = GroupMember
    extra = 0


admin.site.register(Domain, ReadOnlyAdmin, list_display=["name", "mailbox_transport"])
admin.site.register(Account, ReadOnlyAdmin, list_display=["address", "display_name"],
                    search_fields=["address"])
admin.site.register(Group, ReadOnlyAdmin, list_display=["address", "name"],
                    inlines=[GroupMemberInline])
