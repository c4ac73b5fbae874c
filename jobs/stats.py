"""Figures for the ops console's charts, kept in Redis per minute as the workers go.

Every attempt that ends is counted by jobs.states (record()), and the queues are sampled
by the sweeper's pass and by the console's reads (sample_queues()). Each minute has one
Redis hash, `jobs:stats:<minutes since the epoch>`, and each quarter hour another,
`jobs:stats:15m:<quarter hours since the epoch>`, written together, so that the hour
chart reads 60 hashes and the day chart 96 rather than 1440. Each expires BUCKET_TTL
after it was last written (a bit over a day, the longest window a chart shows). Fields:

    done:<queue>:<kind>      attempts that finished
    failed:<queue>:<kind>    attempts that failed: the last one (failed), one RQ will
                             retry (retrying), and one whose worker died (stopped)
    wait:<kind>:<i>          attempts whose wait, queued to started, fell in bucket i
    run:<kind>:<i>           attempts whose run, started to ended, fell in bucket i
    depth:<queue>            jobs waiting in the queue, at the hash's last sample
    oldest:<queue>           seconds the oldest of them had waited, at that sample

A job that fails twice and then succeeds is therefore two failed attempts and one
finished. Bucket i holds the durations up to BOUNDS[i] seconds and above the bound before
it; the last bucket has no upper bound. Percentiles merge a window's histograms and
report the upper bound of the bucket they fall in ("p95 <= 200 ms"), not an estimate
inside it.

Counting costs no Redis round trip per job: record() adds to counters in the process,
and one pipeline writes them all (HINCRBY per field, EXPIRE per hash) once the last
write is JOBS_STATS_FLUSH_SECONDS old, from record() itself, from a worker's heartbeat
thread (so an idle worker's last counts are not held back), when a worker stops and
when the process exits. A worker killed with SIGKILL loses what it counted since its
last write: about a second of attempts while it is busy, at most the heartbeat's period
(JOBS_WORKER_TTL / 3, 5 s) when it is not. A Redis error while writing keeps the counts
for the next write; record() never raises it. Each process writes its own counts, so a
restart of web or worker processes loses nothing else, and any process reads them all.

A forking worker (jobs.worker.Worker) runs each job in a child that exits right after,
so a child writes its counts with its first record(): one round trip per job there.
"""

import atexit
import bisect
import collections
import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field

from redis.exceptions import RedisError
from rq.job import Job
from rq.queue import Queue
from rq.utils import utcparse

from jobs import connections
from jobs.conf import jobs_settings

logger = logging.getLogger("jobs.stats")

KEY = "jobs:stats:{}"  # a minute's figures, by minutes since the epoch
QUARTER_KEY = "jobs:stats:15m:{}"  # the same for 15 minutes, by quarter hours since then
BUCKET_TTL = 25 * 3600  # seconds: a day of minutes, and an hour to spare
# Upper bounds, in seconds, of the latency buckets; the last bucket is everything above.
BOUNDS = (
    *(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5),
    *(1, 2, 5, 10, 30, 60, 120, 300),
    math.inf,
)
FAILED_OUTCOMES = {"failed", "retrying", "stopped"}
OUTCOMES = {"finished", *FAILED_OUTCOMES}
# Retries go to the front of a queue, so its head is not always its oldest job; the
# oldest of a few from the head is, in practice, without reading a long queue.
HEAD = 10
WINDOWS = {"hour": (60, 1), "day": (96, 15)}  # points, minutes per point


def bucket_index(seconds):
    """The latency bucket that `seconds` falls in."""
    return bisect.bisect_left(BOUNDS, max(0.0, seconds))


# -- Recording -------------------------------------------------------------------------


class _Pending:
    """This process's counts not yet written: {(minute, field): count}, behind a lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.flushed_at = float("-inf")  # time.monotonic() of the last write

    def take(self):
        with self.lock:
            counts, self.counts = self.counts, collections.Counter()
            self.flushed_at = time.monotonic()
            return counts

    def give_back(self, counts):
        """Counts a failed write took, kept for the next one unless they have expired."""
        oldest = _minute() - BUCKET_TTL // 60
        with self.lock:
            self.counts.update({key: n for key, n in counts.items() if key[0] > oldest})


_pending = _Pending()


def record(*, queue, kind, outcome, wait=None, run=None):
    """Count one attempt that ended. Never raises for Redis: a chart is not worth a job.

    `outcome` is "finished", "failed", "retrying" or "stopped"; `wait` is the seconds
    from queued to started, `run` the seconds it ran, each None when unknown.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    minute = _minute()
    fields = [f"{'failed' if outcome in FAILED_OUTCOMES else 'done'}:{queue}:{kind}"]
    if wait is not None:
        fields.append(f"wait:{kind}:{bucket_index(wait)}")
    if run is not None:
        fields.append(f"run:{kind}:{bucket_index(run)}")
    with _pending.lock:
        for name in fields:
            _pending.counts[minute, name] += 1
        due = time.monotonic() - _pending.flushed_at >= jobs_settings.JOBS_STATS_FLUSH_SECONDS
    if due:
        flush()


def flush():
    """Write this process's pending counts in one round trip; with nothing pending, none.

    A Redis error is logged and the counts are kept for the next flush.
    """
    _write({})


def sample_queues(queue_names=None):
    """Write each queue's depth and oldest wait into this minute's hash, and flush.

    Two round trips: a script reads the queues' lengths and the enqueue times of their
    heads (one per Redis server, if queues live on several), then one pipeline writes
    the samples and this process's pending counts.
    """
    names = list(queue_names or jobs_settings.RQ_QUEUE_NAMES)
    by_client = collections.defaultdict(list)
    for name in names:
        by_client[connections.get_connection(name)].append(name)
    now = time.time()
    samples = {}
    for client, on_client in by_client.items():
        keys = [Queue.redis_queue_namespace_prefix + name for name in on_client]
        replies = connections.script(client, READ_QUEUES)(
            keys=keys, args=[HEAD, Job.redis_job_namespace_prefix], client=client
        )
        for name, (depth, oldest) in zip(on_client, replies, strict=True):
            age = max(0.0, now - utcparse(oldest.decode()).timestamp()) if oldest else 0
            samples[f"depth:{name}"] = depth
            samples[f"oldest:{name}"] = round(age, 3)
    _write(samples, raise_errors=True)


# RQ writes enqueue times as fixed-width UTC strings, which sort as the times do.
READ_QUEUES = """
local out = {}
for i, key in ipairs(KEYS) do
  local oldest = false
  for _, id in ipairs(redis.call('LRANGE', key, 0, tonumber(ARGV[1]) - 1)) do
    local at = redis.call('HGET', ARGV[2] .. id, 'enqueued_at')
    if at and (not oldest or at < oldest) then oldest = at end
  end
  out[i] = {redis.call('LLEN', key), oldest}
end
return out
"""


def _write(samples, *, raise_errors=False):
    """One pipeline: the pending counts, and `samples` into this minute's hash."""
    counts = _pending.take()
    if not counts and not samples:
        return
    pipeline = connections.get_connection("default").pipeline(transaction=False)
    for (minute, name), n in counts.items():
        for key in _keys(minute):
            pipeline.hincrby(key, name, n)
    if samples:
        for key in _keys(_minute()):
            pipeline.hset(key, mapping=samples)
    for minute in {minute for minute, _ in counts} | ({_minute()} if samples else set()):
        for key in _keys(minute):
            pipeline.expire(key, BUCKET_TTL)
    try:
        pipeline.execute()
    except RedisError as exc:
        _pending.give_back(counts)
        if raise_errors:
            raise
        logger.warning("stats: could not write %d counts (%s)", len(counts), exc)


def _keys(minute):
    return KEY.format(minute), QUARTER_KEY.format(minute // 15)


def _minute(at=None):
    return int((time.time() if at is None else at) // 60)


def _reset_after_fork():
    # A child starts with its parent's pending counts, which are the parent's to write,
    # and, for a work horse, exits after one job: it writes its own at once.
    _pending.lock = threading.Lock()
    _pending.counts = collections.Counter()
    _pending.flushed_at = float("-inf")


os.register_at_fork(after_in_child=_reset_after_fork)
atexit.register(flush)


# -- Reading ---------------------------------------------------------------------------


@dataclass
class Series:
    """A window's figures, one value per point, oldest point first.

    `done` and `failed` map (queue, kind) to counts per point; `depth` and `oldest` map
    a queue to its samples per point (the point's last sample, None when no
    sample was taken); `wait` and `run` map a kind to its merged histogram.
    """

    window: str
    starts: list  # epoch seconds at which each point begins
    minutes_per_point: int
    done: dict = field(default_factory=dict)
    failed: dict = field(default_factory=dict)
    depth: dict = field(default_factory=dict)
    oldest: dict = field(default_factory=dict)
    wait: dict = field(default_factory=dict)
    run: dict = field(default_factory=dict)

    @property
    def queues(self):
        return sorted({q for q, _ in (*self.done, *self.failed)} | set(self.depth))

    @property
    def kinds(self):
        return sorted({k for _, k in (*self.done, *self.failed)} | set(self.wait) | set(self.run))

    def counts(self, outcome, *, queue=None, kind=None):
        """Per point, the "done" or "failed" attempts of `queue` and `kind` (None: all)."""
        rows = self.done if outcome == "done" else self.failed
        total = [0] * len(self.starts)
        for (q, k), values in rows.items():
            if queue in (None, q) and kind in (None, k):
                total = [a + b for a, b in zip(total, values, strict=True)]
        return total

    def latency(self, kind):
        """{"wait": Percentiles, "run": Percentiles} of `kind` over the window."""
        return {
            "wait": percentiles(self.wait.get(kind, {})),
            "run": percentiles(self.run.get(kind, {})),
        }


@dataclass(frozen=True)
class Percentiles:
    """p50 and p95 as the upper bounds (seconds) of their buckets, of `count` attempts.

    None when no attempt was measured; math.inf when it fell above the last bound.
    """

    count: int
    p50: float | None
    p95: float | None


def percentiles(histogram):
    """Percentiles of a {bucket index: count} histogram."""
    count = sum(histogram.values())
    return Percentiles(count, _quantile(histogram, count, 0.5), _quantile(histogram, count, 0.95))


def _quantile(histogram, count, q):
    if not count:
        return None
    rank = math.ceil(q * count)  # the rank-th smallest value, counting from 1
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return BOUNDS[index]
    return BOUNDS[-1]


def series(window="hour", *, connection=None, at=None):
    """The figures of the last hour (60 points of a minute) or day (96 of 15 minutes,
    on the quarter hours), the last point being the minute or quarter under way.

    One round trip: an HGETALL per point, in one pipeline. This process's own pending
    counts are written first, so it reads what it recorded.
    """
    points, per_point = WINDOWS[window]
    flush()
    connection = connection or connections.get_connection("default")
    key = KEY if per_point == 1 else QUARTER_KEY
    last = _minute(at) // per_point
    first = last - points + 1
    pipeline = connection.pipeline(transaction=False)
    for index in range(first, last + 1):
        pipeline.hgetall(key.format(index))
    result = Series(
        window=window,
        starts=[(first + i) * per_point * 60 for i in range(points)],
        minutes_per_point=per_point,
    )
    for point, values in enumerate(pipeline.execute()):
        _add(result, point, points, values)
    return result


def latency(window="hour", **kwargs):
    """{kind: {"wait": Percentiles, "run": Percentiles}} over the window."""
    read = series(window, **kwargs)
    return {kind: read.latency(kind) for kind in read.kinds}


def _add(result, point, points, values):
    for raw_name, raw_value in values.items():
        name, value = raw_name.decode(), raw_value.decode()
        prefix, _, rest = name.partition(":")
        if prefix in ("done", "failed"):
            queue, _, kind = rest.partition(":")
            rows = result.done if prefix == "done" else result.failed
            rows.setdefault((queue, kind), [0] * points)[point] += int(value)
        elif prefix in ("depth", "oldest"):
            getattr(result, prefix).setdefault(rest, [None] * points)[point] = float(value)
        elif prefix in ("wait", "run"):
            kind, _, index = rest.rpartition(":")
            histogram = getattr(result, prefix).setdefault(kind, collections.Counter())
            histogram[int(index)] += int(value)
