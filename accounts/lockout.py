"""The page a locked-out login gets (django-axes calls ``lockout_response``), on the portal's
login and the admin's alike, in the visitor's language."""

from axes.helpers import get_cool_off, get_failure_limit
from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render


def lockout_response(request, original_response=None, credentials=None):
    cool_off = get_cool_off(request)
    context = {
        "failure_limit": get_failure_limit(request, credentials),
        "minutes": round(cool_off.total_seconds() / 60) if cool_off else None,
        "login_url": request.path,
    }
    status = settings.AXES_HTTP_RESPONSE_CODE
    if request.headers.get("x-requested-with") == "XMLHttpRequest":
        return JsonResponse({"locked_out": True, **context}, status=status)
    return render(request, "accounts/lockout.html", context, status=status)
