"""`make test`'s runs (tests/suites.py): every test on both databases, the fault suite once."""

from tests.suites import main, runs

PG = "postgres://postgres@127.0.0.1:5432/photos"


def test_with_postgresql_every_test_runs_on_both_databases_and_the_fault_suite_once_on_it():
    planned = {name: (changes["DATABASE_URL"], args) for name, changes, args in runs(PG)}

    assert planned == {
        "sqlite": (None, ["-m", "not chaos"]),
        "postgresql": (PG, ["-m", "not chaos"]),
        "chaos": (PG, ["-m", "chaos"]),
    }


def test_without_postgresql_the_whole_suite_runs_on_sqlite():
    assert runs("") == [("sqlite", {"DATABASE_URL": None}, [])]


def test_a_failing_run_fails_the_whole_and_an_empty_one_does_not(monkeypatch, tmp_path, capsys):
    import tests.suites as suites

    monkeypatch.setattr(suites, "VAR", tmp_path)
    monkeypatch.setattr(suites, "runs", lambda url: [("none", {}, ["-k", "no_test_has_this_name"])])
    assert main(["", "tests/test_suites.py"]) == 0  # pytest's 5: nothing collected

    monkeypatch.setattr(suites, "runs", lambda url: [("bad", {}, ["--no-such-option"])])
    assert main(["", "tests/test_suites.py"]) == 1
    assert "Failed: bad" in capsys.readouterr().out
