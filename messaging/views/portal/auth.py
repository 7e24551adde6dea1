"""The portal's login and logout pages (django.contrib.auth views, our templates)."""

from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy


class LoginView(auth_views.LoginView):
    template_name = "portal/login.html"
    redirect_authenticated_user = True
    next_page = reverse_lazy("home")


class LogoutView(auth_views.LogoutView):
    next_page = reverse_lazy("login")
