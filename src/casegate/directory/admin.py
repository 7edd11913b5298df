from django.contrib import admin

from casegate.directory.models import Account, Domain, Group, GroupMember


class GroupMemberInline(admin.TabularInline):
    model = GroupMember
    extra = 1


admin.site.register(Domain, list_display=["name", "mailbox_transport"])
admin.site.register(Account, list_display=["address", "display_name"], search_fields=["address"])
admin.site.register(Group, list_display=["address", "name"], inlines=[GroupMemberInline])
