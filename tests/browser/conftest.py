"""Real headless Chromium (Debian's ``chromium``) driven by Playwright against the live server.

Screenshots of every page visited go to ``var/screenshots/`` (or ``$SMSPORTAL_SCREENSHOTS``);
``var/`` is kept out of git."""

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings as django_settings

CHROMIUM = os.environ.get("SMSPORTAL_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(
    os.environ.get("SMSPORTAL_SCREENSHOTS", django_settings.BASE_DIR / "var" / "screenshots")
)
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
]


@pytest.fixture(scope="module")
def _orm_beside_playwright():
    # Playwright's sync API keeps an event loop running in this thread while the browser is
    # open; the ORM calls made here (database setup, the tests' checks) are still plain
    # synchronous code, so Django's async-safety guard is lifted for the browser tests only.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="module")
def browser(_orm_beside_playwright):
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (bin/test installs it)")
    playwright_sync = pytest.importorskip("playwright.sync_api")
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def screenshot():
    """``screenshot(page, name)``: a full-page PNG for review."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
