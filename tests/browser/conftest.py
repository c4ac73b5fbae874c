import os
from pathlib import Path

import pytest

# Playwright's sync API keeps an asyncio loop in this thread; Django's ORM then refuses to
# run unless told that this thread is safe, which for a test driving a browser it is.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


# Every screenshot a browser test takes lands in var/screenshots/<test name>/, or under
# BROWSER_ARTIFACTS when set (`make test` gives each run var/screenshots/<run>/):
# the run's artifacts, to open when a browser test fails. The ones a test marks for the
# docs are also written to docs/screenshots/ when UPDATE_DOCS_SCREENSHOTS=1, which
# `make screenshots` sets, so the docs show what the current code draws.
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", ROOT / "var" / "screenshots"))
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture
def screenshot(page, request):
    """screenshot("name") saves the page as <artifacts>/<test name>/name.png and returns
    the path; screenshot("name", docs=True) also refreshes docs/screenshots/name.png
    under `make screenshots`."""
    folder = ARTIFACTS / request.node.name
    folder.mkdir(parents=True, exist_ok=True)

    def take(name, *, docs=False, full_page=True):
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        if docs and os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
            DOCS_SCREENSHOTS.mkdir(exist_ok=True)
            (DOCS_SCREENSHOTS / path.name).write_bytes(path.read_bytes())
        return path

    return take


@pytest.fixture
def mailbox(settings, tmp_path):
    """/dev/mail/ on, reading the folder where the worker process writes its email."""
    settings.DEBUG = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = settings.MAIL_DIR = tmp_path / "mail"
    return settings.MAIL_DIR
