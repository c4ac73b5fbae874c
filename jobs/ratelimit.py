"""A rate limit shared by every worker process: at most `limit` actions per `window`.

BullMQ's limiter ({max, duration}) holds a queue to N jobs per time window. RQ 3's
RateLimit caps how many jobs run at once, which is a different promise, so this one is
built on Redis: a sorted set of recent action times per limiter, trimmed and counted
inside one Lua script so that two workers can never both take the last slot. Redis'
own clock is used, so workers on machines whose clocks disagree still agree here.
"""

import uuid

from jobs import connections
from jobs.tracking import RunLater

# KEYS[1]: the limiter's sorted set. ARGV: limit, window in ms, a unique member.
# Returns 0 when a slot was taken, else the milliseconds until the oldest slot frees.
TAKE_SLOT = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now_ms, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tonumber(oldest[2]) + window - now_ms
"""


def take_slot(name: str, *, limit: int, window_seconds: float, connection=None) -> float:
    """Take one slot now, or return how many seconds until one frees up."""
    connection = connection or connections.get_connection("default")
    script = connection.register_script(TAKE_SLOT)
    wait_ms = script(
        keys=[f"ratelimit:{name}"], args=[limit, int(window_seconds * 1000), uuid.uuid4().hex]
    )
    return max(0, int(wait_ms)) / 1000


def slot_or_run_later(name: str, *, limit: int, window_seconds: float) -> None:
    """In a tracked job: go ahead, or be rescheduled (not failed) for the next free slot."""
    wait = take_slot(name, limit=limit, window_seconds=window_seconds)
    if wait:
        raise RunLater(wait, f"Waiting for a {name} slot ({limit} per {window_seconds:g}s)")
