from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from messaging.views.portal import auth as portal_auth
from messaging.views.portal.dashboard import home

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("accounts/login/", portal_auth.LoginView.as_view(), name="login"),
    path("accounts/logout/", portal_auth.LogoutView.as_view(), name="logout"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("vendor/", include("messaging.urls")),
    path("imports/", include("messaging.importing.urls")),
    path("portal/", include("messaging.portal_urls")),
    path("", home, name="home"),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
