from django.contrib import admin

from casegate.desk.models import Case, Intake, Lead

admin.site.register(Intake, list_display=["address", "kind", "name"])
admin.site.register(Case, list_display=["id", "subject", "requester", "status", "created_at"],
                    search_fields=["subject", "requester"])
admin.site.register(Lead, list_display=["id", "subject", "requester", "status", "created_at"])
