"""Template context for every page: whether the demo's simulator page exists."""

from django.conf import settings


def demo_mode(request) -> dict:
    return {"demo_mode": settings.DEMO_MODE}
