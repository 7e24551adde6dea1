"""The demo's simulator page (included by path from smsportal/urls.py: production code names
no simulator module)."""

from django.urls import path

from . import views

app_name = "demo"

urlpatterns = [
    path("", views.simulator, name="simulator"),
    path("reply/", views.reply, name="reply"),
    path("fault/", views.fault, name="fault"),
    path("review/", views.review, name="review"),
]
