"""/ops/charts/: the dashboard's live charts, with the figures of the jobs workers ran."""

import time
import uuid
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from jobs import stats
from tests.jobs import tasks

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(autouse=True)
def _no_counts_from_earlier_tests():
    stats._pending.take()
    yield
    stats._pending.take()


class Panel(HTMLParser):
    """What a person reads on the panel: the figures, the table rows, and each chart."""

    def __init__(self, html):
        super().__init__()
        self.html, self.charts, self.rows, self.fields = html, [], {}, {}
        self._row = self._field = None
        self.feed(html)
        for start in range(len(self.html)):
            if self.html.startswith("<svg", start):
                end = self.html.index("</svg>", start) + len("</svg>")
                self.charts.append(ET.fromstring(self.html[start:end]))

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and "data-kind" in attrs:
            self._row = (attrs.get("data-queue"), attrs["data-kind"])
            self.rows[self._row] = {}
        if "data-field" in attrs:
            self._field = attrs["data-field"]

    def handle_endtag(self, tag):
        if tag == "tr":
            self._row = None

    def handle_data(self, data):
        if self._field is None:
            return
        (self.rows[self._row] if self._row else self.fields)[self._field] = data.strip()
        self._field = None

    def chart(self, title):
        return next(svg for svg in self.charts if svg.find(f"{SVG}title").text == title)


def points(svg, series):
    lines = [line for line in svg.iter(f"{SVG}polyline") if line.get("data-series") == series]
    return [len(line.get("points").split()) for line in lines]


def panel(client, **query):
    response = client.get(reverse("ops:charts"), query)
    assert response.status_code == 200
    return Panel(response.content.decode())


@pytest.mark.django_db(transaction=True)
def test_the_charts_count_what_a_real_worker_ran_per_queue_and_kind(
    staff_client, enqueue, worker_process
):
    for i in range(4):
        enqueue(tasks.succeed, i)
    for i in range(2):
        enqueue(tasks.succeed, i, queue="high")
    for _ in range(3):
        enqueue(tasks.always_fail, queue="low")

    worker_process()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        read = panel(staff_client)
        if (read.fields["finished"], read.fields["failed"]) == ("6", "3"):
            break
        time.sleep(0.2)

    assert (read.fields["finished"], read.fields["failed"]) == ("6", "3")
    assert {key: row for key, row in read.rows.items() if key[0]} == {
        ("default", "succeed"): {"finished": "4", "failed": "0"},
        ("high", "succeed"): {"finished": "2", "failed": "0"},
        ("low", "always_fail"): {"finished": "0", "failed": "3"},
    }
    assert (read.rows[None, "succeed"]["count"], read.rows[None, "always_fail"]["count"]) == (
        "6",
        "3",
    )
    attempts = read.chart("Attempts per minute")
    assert (attempts.get("data-total"), attempts.get("data-failed")) == ("6", "3")


def test_the_hour_has_60_points_and_the_day_96(staff_client, enqueue, run_jobs):
    enqueue(tasks.succeed, 1)
    run_jobs()

    hour, day = panel(staff_client), panel(staff_client, window="day")

    assert points(hour.chart("Attempts per minute"), "finished") == [60]
    assert points(hour.chart("Attempts per minute"), "failed") == [60]
    assert points(day.chart("Attempts per 15 minutes"), "finished") == [96]
    assert (hour.fields["finished"], day.fields["finished"]) == ("1", "1")


def test_a_retried_attempt_counts_as_failed_and_the_retry_that_works_as_finished(
    staff_client, enqueue, run_jobs, fast_forward
):
    enqueue(tasks.fail_times, f"charts-{uuid.uuid4()}", 1, retries=1)
    run_jobs()
    fast_forward()
    run_jobs(with_scheduler=True)

    read = panel(staff_client)

    assert read.rows["default", "fail_times"] == {"finished": "1", "failed": "1"}
    assert read.rows[None, "fail_times"]["count"] == "2"


def test_queue_and_kind_choose_the_figures_and_an_unknown_one_shows_all(
    staff_client, enqueue, run_jobs
):
    enqueue(tasks.succeed, 1)
    enqueue(tasks.succeed, 2)
    enqueue(tasks.always_fail)
    enqueue(tasks.succeed, 3, queue="low")
    run_jobs()

    low = panel(staff_client, queue="low")
    failing = panel(staff_client, kind="always_fail")
    unknown = panel(staff_client, queue="nope", kind="<script>", window="year")

    assert (low.fields["finished"], low.fields["failed"]) == ("1", "0")
    assert list(low.rows) == [("low", "succeed"), (None, "succeed")]
    assert (failing.fields["finished"], failing.fields["failed"]) == ("0", "1")
    assert (unknown.fields["finished"], unknown.fields["failed"]) == ("3", "1")
    assert points(unknown.chart("Attempts per minute"), "finished") == [60]


def test_the_depth_chart_shows_the_jobs_waiting_now(staff_client, enqueue):
    for i in range(3):
        enqueue(tasks.succeed, i, queue="low")

    read = panel(staff_client)

    depth = read.chart("Jobs waiting in each queue")
    assert "low 3 at the latest sample" in depth.get("aria-label")
    assert points(depth, "low") == [1]  # one sample so far: this read's
    assert points(depth, "high") == [1]


def test_percentiles_read_as_the_bounds_of_their_buckets(staff_client):
    for _ in range(19):
        stats.record(queue="high", kind="resize", outcome="finished", wait=0.004, run=0.15)
    stats.record(queue="high", kind="resize", outcome="finished", wait=400, run=1.5)

    row = panel(staff_client).rows[None, "resize"]

    assert row == {
        "count": "20",
        "wait_p50": "≤ 5 ms",
        "wait_p95": "≤ 5 ms",
        "run_p50": "≤ 200 ms",
        "run_p95": "≤ 200 ms",
    }
    stats.record(queue="high", kind="resize", outcome="finished", wait=400, run=1.5)
    assert panel(staff_client).rows[None, "resize"]["wait_p95"] == "> 300 s"


def test_every_chart_is_an_image_with_a_title_and_a_label_in_words(staff_client):
    stats.record(queue="high", kind="resize", outcome="finished", wait=0.004, run=0.15)

    read = panel(staff_client)

    assert [svg.find(f"{SVG}title").text for svg in read.charts] == [
        "Attempts per minute",
        "Jobs waiting in each queue",
        "Oldest waiting job, seconds",
        "Wait, queued to started",
        "Run time, started to ended",
    ]
    assert all(svg.get("role") == "img" for svg in read.charts)
    assert read.chart("Run time, started to ended").get("aria-label") == (
        "Run time, started to ended: resize p50 ≤ 200 ms, p95 ≤ 200 ms"
    )
    linked = [el for svg in read.charts for el in svg.iter() if {"href", "src"} & set(el.attrib)]
    assert linked == []
    assert "<script" not in read.html


def test_the_dashboard_polls_the_charts_with_the_chosen_window(staff_client):
    response = staff_client.get(reverse("ops:dashboard"), {"window": "day"})

    assert f'data-ops-poll="{reverse("ops:charts")}?window=day"' in response.content.decode()


def test_read_only_staff_see_the_charts_and_staff_without_the_permission_do_not(
    client, viewer, staff_only
):
    client.force_login(viewer)
    assert client.get(reverse("ops:charts")).status_code == 200

    client.force_login(staff_only)
    assert client.get(reverse("ops:charts")).status_code == 403
