from django.contrib import admin

from casegate.routing.models import Rule

admin.site.register(
    Rule,
    list_display=["position", "match_type", "match_value", "rewrite", "rewrite_value",
                  "bypass_spam", "apply_to", "enabled"],
)
