"""The marketer's pages (server-rendered; the admin serves administrators)."""

from django.urls import path

from .views.portal import (
    approvals,
    archive,
    campaign_changes,
    campaigns,
    composer,
    dashboard,
    exports,
    imports,
    inbox,
    lists,
    suppressions,
    template_library,
)

app_name = "portal"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path(
        "accounts/<int:pk>/balance/",
        dashboard.refresh_account_balance,
        name="refresh_balance",
    ),
    # Composer
    path("compose/", composer.compose, name="compose"),
    path("compose/preview/", composer.preview, name="compose_preview"),
    path("compose/check/", composer.content_check, name="compose_check"),
    path("campaigns/<int:pk>/edit/", composer.compose, name="compose_edit"),
    path("campaigns/<int:pk>/frames/", composer.upload_frame, name="frame_upload"),
    path(
        "campaigns/<int:pk>/frames/<int:file_pk>/delete/",
        composer.delete_frame_file,
        name="frame_delete",
    ),
    path(
        "campaigns/<int:pk>/frames/<int:file_pk>/",
        composer.frame_file,
        name="frame_file",
    ),
    path("campaigns/<int:pk>/confirm/", composer.confirm, name="confirm"),
    path("campaigns/<int:pk>/send-count/", composer.send_count_progress, name="send_count"),
    path("campaigns/<int:pk>/test-send/", composer.test_send, name="test_send"),
    path("campaigns/<int:pk>/submit/", composer.submit, name="submit"),
    # Approval
    path("approvals/", approvals.queue, name="approvals"),
    path("approvals/<int:pk>/", approvals.review, name="approval_review"),
    path("approvals/<int:pk>/decide/", approvals.decide, name="approval_decide"),
    # Campaigns
    path("campaigns/", campaigns.campaign_list, name="campaigns"),
    path("campaigns/<int:pk>/", campaigns.campaign_detail, name="campaign"),
    path("campaigns/<int:pk>/stats.json", campaigns.campaign_stats_json, name="campaign_stats"),
    path("campaigns/<int:pk>/pause/", campaigns.pause, name="pause"),
    path("campaigns/<int:pk>/resume/", campaigns.resume, name="resume"),
    path("campaigns/<int:pk>/cancel/", campaigns.cancel, name="cancel"),
    path(
        "campaigns/<int:pk>/resend-unresolved/",
        campaigns.resend_unresolved,
        name="resend_unresolved",
    ),
    path(
        "campaigns/<int:pk>/edit-scheduled/", campaign_changes.edit_scheduled, name="edit_scheduled"
    ),
    path("campaigns/<int:pk>/retime/", campaign_changes.retime, name="retime"),
    path("campaigns/<int:pk>/duplicate/", campaign_changes.duplicate, name="duplicate"),
    path("campaigns/<int:pk>/archive/", archive.archive, name="archive"),
    path(
        "campaigns/<int:pk>/archive.csv.gz",
        archive.archive_file,
        name="archive_file",
    ),
    # Saved templates
    path("templates/", template_library.template_list, name="templates"),
    path("templates/new/", template_library.template_edit, name="template_new"),
    path("templates/<int:pk>/", template_library.template_edit, name="template"),
    path("templates/<int:pk>/copy/", template_library.template_copy, name="template_copy"),
    path("templates/<int:pk>/delete/", template_library.template_delete, name="template_delete"),
    path(
        "templates/<int:pk>/frames/",
        template_library.template_frame_upload,
        name="template_frame_upload",
    ),
    path(
        "templates/<int:pk>/frames/<int:file_pk>/delete/",
        template_library.template_frame_delete,
        name="template_frame_delete",
    ),
    path(
        "templates/<int:pk>/frames/<int:file_pk>/",
        template_library.template_frame_file,
        name="template_frame_file",
    ),
    # Recipient lists
    path("lists/", lists.list_index, name="lists"),
    path("lists/<int:pk>/", lists.list_detail, name="list"),
    # Replies
    path("lists/<int:list_pk>/import/", imports.list_page, name="import_list"),
    path("lists/<int:list_pk>/import/upload/", imports.upload, name="import_upload"),
    path("imports/<int:job_pk>/mapping/", imports.mapping, name="import_mapping"),
    path("imports/<int:job_pk>/", imports.job_page, name="import_job"),
    path("imports/<int:job_pk>/status.json", imports.job_status, name="import_status"),
    path("imports/<int:job_pk>/rejected.csv", imports.rejected_report, name="import_rejected"),
    path(
        "lists/<int:list_pk>/recipients.<str:fmt>",
        exports.export_recipients,
        name="export_recipients",
    ),
    path(
        "campaigns/<int:campaign_pk>/messages.<str:fmt>",
        exports.export_messages,
        name="export_messages",
    ),
    path("replies.<str:fmt>", exports.export_replies, name="export_replies"),
    path("inbox/", inbox.inbox, name="inbox"),
    # Suppression list
    path("suppressions/", suppressions.suppression_list, name="suppressions"),
    path("suppressions/add/", suppressions.add, name="suppression_add"),
    path("suppressions/import/", suppressions.import_file, name="suppression_import"),
    path("suppressions/lift/", suppressions.lift, name="suppression_lift"),
    path("suppressions.<str:fmt>", suppressions.export, name="suppression_export"),
    # Alerts
    path("alerts/", dashboard.alert_list, name="alerts"),
    path("alerts/test/", dashboard.test_alert, name="alert_test"),
    path("inbox/mark/", inbox.mark, name="inbox_mark"),
]
