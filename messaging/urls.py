from django.urls import path

from .views import push

app_name = "push"

urlpatterns = [
    path("push/<int:account_pk>/<str:token>/", push.receive, name="receive"),
]
