from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from casegate.console import (
    admin_views,
    automation_views,
    routing_views,
    suspended_views,
    views,
)
from casegate.console.password_reset import ResetRequestView

app_name = "console"

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("routing/", routing_views.routing, name="routing"),
    path("routing/add", routing_views.rule_add, name="rule_add"),
    path("routing/test-message", routing_views.send_test_message, name="test_message"),
    path("routing/export", routing_views.rule_export, name="rule_export"),
    path("routing/import", routing_views.rule_import, name="rule_import"),
    path("routing/versions/<int:number>/rollback", routing_views.rule_rollback,
         name="rule_rollback"),
    path("routing/<int:rule_id>/delete", routing_views.rule_delete, name="rule_delete"),
    path("routing/<int:rule_id>/<str:action>", routing_views.rule_change, name="rule_change"),
    path("triggers/", automation_views.triggers, name="triggers"),
    path("triggers/<int:trigger_id>/<str:action>", automation_views.trigger_change,
         name="trigger_change"),
    path("trace/", views.trace, name="trace"),
    path("trace/<str:queue_id>/", views.trace_message, name="trace_message"),
    path("audit/", views.audit, name="audit"),
    path("quarantine/", admin_views.quarantine, name="quarantine"),
    path("quarantine/bulk", admin_views.quarantine_bulk, name="quarantine_bulk"),
    path("quarantine/<int:entry_id>/", admin_views.quarantine_entry, name="quarantine_entry"),
    path("quarantine/<int:entry_id>/<str:decision>", admin_views.quarantine_decide,
         name="quarantine_decide"),
    path("directory/", admin_views.directory, name="directory"),
    path("directory/<str:what>", admin_views.directory_change, name="directory_change"),
    path("mailboxes/", admin_views.mailboxes, name="mailboxes"),
    path("mailboxes/<str:name>", admin_views.mailbox_change, name="mailbox_change"),
    path("app.js", admin_views.script, name="script"),
    path("cases/", views.cases, name="cases"),
    path("cases/bulk", views.cases_bulk, name="cases_bulk"),
    path("cases/<int:case_id>/", views.case, name="case"),
    path("cases/<int:case_id>/reply", views.case_reply, name="case_reply"),
    path("cases/<int:case_id>/fields", views.case_fields, name="case_fields"),
    path("cases/<int:case_id>/merge", views.case_merge, name="case_merge"),
    path("cases/<int:case_id>/presence", views.case_presence, name="case_presence"),
    path("cases/<int:case_id>/unmerge", views.case_unmerge, name="case_unmerge"),
    path("cases/<int:case_id>/messages/<int:message_id>/split", views.message_split,
         name="message_split"),
    path("cases/<int:case_id>/macro", automation_views.case_macro, name="case_macro"),
    path("leads/", views.leads, name="leads"),
    path("leads/<int:lead_id>/move", views.lead_move, name="lead_move"),
    path("suspended/", suspended_views.suspended, name="suspended"),
    path("suspended/decide", suspended_views.suspended_decide, name="suspended_decide"),
    path("suspended/blocked/<str:action>", suspended_views.blocked_change,
         name="blocked_change"),
    path("contacts/<int:contact_id>/", views.contact, name="contact"),
    path("companies/<int:company_id>/", views.company, name="company"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", ResetRequestView.as_view(), name="password_reset"),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(
        template_name="console/password_reset_done.html"), name="password_reset_done"),
    path("password-reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(
        template_name="console/password_reset_confirm.html",
        success_url=reverse_lazy("login")), name="password_reset_confirm"),
]
