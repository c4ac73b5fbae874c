"""A small closed-loop HTTP load generator: N clients, each sending its next request as
soon as the previous one has been answered.

No external tools: one thread per client, each with its own keep-alive
http.client.HTTPConnection (a server that answers `Connection: close`, like gunicorn's
sync worker, makes http.client open a new connection for the next request by itself).

    result = run(
        "127.0.0.1", 8000,
        clients=50,
        make_request=lambda client, i: ("GET", "/healthz", None, {}),
        requests_per_client=10,          # or duration=10.0 (seconds)
    )
    result.p50_ms, result.p99_ms, result.rps, result.errors

`make_request(client, i)` returns (method, path, body bytes or None, headers) for the
i-th request of client number `client`; `ok(status)` decides what counts as success
(default 2xx and 3xx). Latencies are wall-clock from sending the request to reading the
whole response body, in the client's thread.

Run it directly for a quick check against a running server:

    .venv/bin/python bench/loadgen.py http://127.0.0.1:8000/healthz -c 20 -d 5
"""

import argparse
import http.client
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

try:
    from bench.common import percentile
except ImportError:  # run as a script: bench/ is on the path, the project root is not
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.common import percentile


@dataclass
class Result:
    latencies: list = field(default_factory=list)  # seconds, successful requests only
    errors: int = 0
    error_samples: list = field(default_factory=list)  # a few (status or exception) strings
    elapsed: float = 0.0
    statuses: dict = field(default_factory=dict)

    @property
    def count(self):
        return len(self.latencies)

    @property
    def rps(self):
        """Successful requests per second over the whole run."""
        return self.count / self.elapsed if self.elapsed else 0.0

    @property
    def p50_ms(self):
        return percentile(self.latencies, 50) * 1000

    @property
    def p99_ms(self):
        return percentile(self.latencies, 99) * 1000

    def summary(self):
        return (
            f"{self.count} ok, {self.errors} errors in {self.elapsed:.1f} s: "
            f"{self.rps:.1f} req/s, p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms"
        )


def default_ok(status):
    return 200 <= status < 400


def run(
    host,
    port,
    *,
    clients,
    make_request,
    requests_per_client=None,
    duration=None,
    ok=default_ok,
    timeout=300,
    on_response=None,
):
    """Run `clients` closed-loop clients until each has sent `requests_per_client`
    requests, or for `duration` seconds; return a Result.

    With a duration, a request still in flight when time is up is waited for and counted.
    `on_response(client, i, status, headers, body)` may look at each response (e.g. to
    keep a cookie); it runs in the client's thread.
    """
    if (requests_per_client is None) == (duration is None):
        raise ValueError("give exactly one of requests_per_client and duration")
    result = Result()
    lock = threading.Lock()
    start_gate = threading.Barrier(clients + 1)
    deadline = [None]

    def client(number):
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        latencies, errors, samples, statuses = [], 0, [], {}
        start_gate.wait()
        i = 0
        while True:
            if requests_per_client is not None and i >= requests_per_client:
                break
            if duration is not None and time.perf_counter() >= deadline[0]:
                break
            method, path, body, headers = make_request(number, i)
            began = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                took = time.perf_counter() - began
                statuses[response.status] = statuses.get(response.status, 0) + 1
                if ok(response.status):
                    latencies.append(took)
                else:
                    errors += 1
                    if len(samples) < 3:
                        samples.append(f"{response.status} {payload[:200]!r}")
                if on_response:
                    on_response(number, i, response.status, response.headers, payload)
            except (OSError, http.client.HTTPException) as exc:
                errors += 1
                if len(samples) < 3:
                    samples.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=timeout)
            i += 1
        conn.close()
        with lock:
            result.latencies += latencies
            result.errors += errors
            result.error_samples += samples[: max(0, 5 - len(result.error_samples))]
            for status, count in statuses.items():
                result.statuses[status] = result.statuses.get(status, 0) + count

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    if duration is not None:
        deadline[0] = began + duration
    start_gate.wait()
    for thread in threads:
        thread.join()
    result.elapsed = time.perf_counter() - began
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("-c", "--clients", type=int, default=10)
    parser.add_argument("-d", "--duration", type=float, default=None)
    parser.add_argument("-n", "--requests", type=int, default=None, help="per client")
    args = parser.parse_args()
    parts = urlsplit(args.url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    result = run(
        parts.hostname,
        parts.port or 80,
        clients=args.clients,
        make_request=lambda client, i: ("GET", path or "/", None, {}),
        duration=(args.duration or 5.0) if args.requests is None else None,
        requests_per_client=args.requests,
    )
    print(result.summary())
    if result.error_samples:
        print("errors, e.g.:", *result.error_samples, sep="\n  ")


if __name__ == "__main__":
    main()
