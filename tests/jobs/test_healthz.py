import django_rq
import pytest

from jobs.worker import Worker

pytestmark = pytest.mark.django_db


def test_it_is_healthy_when_database_and_redis_answer(client, run_jobs):
    response = client.get("/healthz")

    assert response.status_code == 200
    idle = {"waiting": 0, "oldest_waiting_seconds": None, "backlog": False}
    assert response.json() == {
        "database": "ok",
        "redis": "ok",
        "workers": 0,
        "queues": {"high": idle, "default": idle, "low": idle},
        "ok": True,
    }


def test_it_is_503_when_redis_is_down(client, settings):
    dead = "redis://127.0.0.1:1/0?socket_connect_timeout=0.2&socket_timeout=0.2"
    settings.RQ_QUEUES = {name: {**c, "URL": dead} for name, c in settings.RQ_QUEUES.items()}

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["redis"].startswith("error")
    assert response.json()["database"] == "ok"


def test_it_counts_live_workers(client, redis):
    worker = Worker([django_rq.get_queue("default")], connection=redis)
    worker.register_birth()
    try:
        assert client.get("/healthz").json()["workers"] == 1
    finally:
        worker.register_death()


def test_it_does_not_count_a_worker_whose_heartbeat_expired(client, redis):
    dead = Worker([django_rq.get_queue("default")], connection=redis)
    dead.register_birth()
    dead.liveness.stop()  # as if killed: its RQ entry stays, its heartbeat key goes

    assert client.get("/healthz").json()["workers"] == 0
