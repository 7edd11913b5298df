from django.contrib import admin

from casegate.directory.admin import ReadOnlyAdmin
from casegate.routing.models import AddressList, Route, Rule, RuleVersion

admin.site.register(
    Rule, ReadOnlyAdmin,
    list_display=["position", "match_type", "match_value", "rewrite", "rewrite_value",
                  "action", "apply_to", "enabled"],
)
admin.site.register(RuleVersion, ReadOnlyAdmin, list_display=["number", "created_at", "actor",
                                                               "summary"])
admin.site.register([AddressList, Route], ReadOnlyAdmin)
