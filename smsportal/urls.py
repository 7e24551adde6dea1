from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic.base import RedirectView

from messaging.views.portal import auth as portal_auth
from messaging.views.portal.dashboard import home
from smsportal.health import healthz


class FaviconView(RedirectView):
    """Browsers ask for /favicon.ico whatever a page links: the portal's icon (its static URL
    looked up per request, as the hashed name exists only once the files are collected)."""

    def get_redirect_url(self, *args, **kwargs):
        return static("portal/favicon.svg")


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", FaviconView.as_view()),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("accounts/login/", portal_auth.LoginView.as_view(), name="login"),
    path("accounts/logout/", portal_auth.LogoutView.as_view(), name="logout"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("vendor/", include("messaging.urls")),
    path("portal/", include("messaging.portal_urls")),
    # Uploaded files, behind permission checks (messaging/views/media.py).
    path("files/", include("messaging.views.media")),
    # The demo's vendor simulator page: a 404 for everyone outside demo mode.
    path("demo/simulator/", include("messaging.demo.urls")),
    path("", home, name="home"),
]

# Nothing is served from MEDIA_ROOT directly, in DEBUG or not: uploads (template files,
# rejected-rows reports with phone numbers) go out only through views that check permissions.
