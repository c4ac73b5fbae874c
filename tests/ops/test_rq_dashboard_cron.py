"""django-rq's dashboard points at rq-scheduler's cron entries instead of saying there are none."""

import re
from pathlib import Path

import django_rq
import pytest
from django.conf import settings
from django.urls import reverse

from jobs.schedules import register_periodic_jobs

pytestmark = pytest.mark.django_db

OURS = re.compile(r" *\{# ours: begin.*?\{# ours: end #\}\n\n", re.S)
THEIRS = re.compile(r" *<h1>Cron Schedulers</h1>.*?(?= *\{% if schedulers %\})", re.S)
HEADER = re.compile(r"\{% comment %\}.*?\{% endcomment %\}\n", re.S)


def test_the_dashboard_says_where_the_cron_entries_run_and_links_to_them(client, staff):
    register_periodic_jobs()
    client.force_login(staff)

    response = client.get(reverse("django_rq:home"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "No running cron schedulers" not in page
    panel = re.search(r'<div class="module" id="app-cron">(.*?)</div>', page, re.S).group(1)
    assert "rq-scheduler" in panel
    assert f'href="{reverse("ops:cron")}"' in panel
    # rq-scheduler's own panel, further down, counts our two entries.
    assert re.search(r"<h2>RQ Scheduler</h2>.*?>\s*2\s*</a>", page, re.S)


def test_the_override_is_django_rqs_template_but_for_the_cron_panel():
    upstream = Path(django_rq.__file__).parent / "templates" / "django_rq" / "stats.html"
    ours = Path(settings.BASE_DIR) / "templates" / "django_rq" / "stats.html"

    theirs_text, count = THEIRS.subn("", upstream.read_text())
    assert count == 1  # django-rq moved its cron panel: look at the override again
    ours_text = OURS.sub("", HEADER.sub("", ours.read_text()))
    assert ours_text == theirs_text
