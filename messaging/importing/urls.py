from django.urls import path

from . import views

app_name = "importing"

urlpatterns = [
    path("lists/<int:list_pk>/", views.list_page, name="list"),
    path("lists/<int:list_pk>/upload/", views.upload, name="upload"),
    path(
        "lists/<int:list_pk>/recipients.<str:fmt>",
        views.export_recipients,
        name="export_recipients",
    ),
    path("jobs/<int:job_pk>/mapping/", views.mapping, name="mapping"),
    path("jobs/<int:job_pk>/", views.job_page, name="job"),
    path("jobs/<int:job_pk>/status.json", views.job_status, name="job_status"),
    path("jobs/<int:job_pk>/rejected.csv", views.rejected_report, name="rejected"),
    path(
        "campaigns/<int:campaign_pk>/messages.<str:fmt>",
        views.export_messages,
        name="export_messages",
    ),
    path("replies.<str:fmt>", views.export_replies, name="export_replies"),
]
