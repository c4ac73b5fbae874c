"""What browser tests do on many pages."""

import re
import time

from playwright.sync_api import expect

# The passwords of the user fixtures in tests/conftest.py.
PASSWORDS = {"alice": "correct horse 1", "bob": "correct horse 2", "charlie": "correct horse 3"}


def log_in(page, live_server, user, password=None):
    """Sign `user` (a user or a username) in on `page`; the login lands on My jobs."""
    username = getattr(user, "username", user)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password or PASSWORDS[username])
    page.click("main button[type=submit]")
    expect(page).to_have_url(re.compile(r"/jobs/$"))


def mailbox_email(page, live_server, subject, *, timeout=60):
    """Open the development mailbox (/dev/mail/, staff's) on `page`, reloading until an
    email whose text has `subject` is listed, and return its <details>."""
    email = page.locator("details", has_text=subject)
    deadline = time.monotonic() + timeout
    page.goto(f"{live_server.url}/dev/mail/")
    while not email.count() and time.monotonic() < deadline:
        time.sleep(0.5)
        page.reload()
    expect(email).to_have_count(1)
    return email
