"""The marketer's pages (server-rendered; the admin serves administrators)."""

from django.urls import path  # noqa: F401

app_name = "portal"

urlpatterns: list = []
