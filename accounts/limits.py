"""Rate limits on login and signup, per client IP and per account.

Each attempt takes a slot in jobs.ratelimit's sliding window in Redis, the one the email
jobs share, so every web process counts against the same windows. A refused attempt
takes no slot: someone who keeps trying is let in again as the window moves on.
"""

import hashlib
import ipaddress
import logging
import math
import unicodedata

from django.conf import settings
from redis.exceptions import RedisError

from jobs.ratelimit import take_slot

logger = logging.getLogger("accounts")


def login_wait(request, username):
    """Seconds until this login attempt may be made; 0 lets it go ahead (and counts it)."""
    window = settings.LOGIN_RATE_WINDOW_SECONDS
    return _wait(
        (f"login:ip:{client_network(request)}", settings.LOGIN_RATE_IP_LIMIT, window),
        (f"login:account:{_digest(username)}", settings.LOGIN_RATE_LIMIT, window),
    )


def signup_wait(request, email):
    """Seconds until this signup attempt may be made; 0 lets it go ahead (and counts it)."""
    window = settings.SIGNUP_RATE_WINDOW_SECONDS
    limits = [(f"signup:ip:{client_network(request)}", settings.SIGNUP_RATE_IP_LIMIT, window)]
    if email.strip():
        limits.append((f"signup:email:{_digest(email)}", settings.SIGNUP_RATE_LIMIT, window))
    return _wait(*limits)


def password_reset_wait(request, email):
    """Seconds until this reset request may be made; it shares signup's limits' settings."""
    window = settings.SIGNUP_RATE_WINDOW_SECONDS
    limits = [(f"reset:ip:{client_network(request)}", settings.SIGNUP_RATE_IP_LIMIT, window)]
    if email.strip():
        limits.append((f"reset:email:{_digest(email)}", settings.SIGNUP_RATE_LIMIT, window))
    return _wait(*limits)


def client_network(request):
    """The client's address, or its /64 for IPv6, where one host holds a whole /64.

    REMOTE_ADDR, not X-Forwarded-For, which any client can write: behind a proxy, make
    the proxy's address the client's (or every visitor shares the proxy's limit).
    """
    address = request.META.get("REMOTE_ADDR") or "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def wait_in_words(seconds):
    if seconds < 60:
        count, unit = max(1, math.ceil(seconds)), "second"
    else:
        count, unit = math.ceil(seconds / 60), "minute"
    return f"{count} {unit}{'s' if count != 1 else ''}"


def _wait(*limits):
    for name, limit, window in limits:
        try:
            wait = take_slot(name, limit=limit, window_seconds=window)
        except RedisError as exc:
            # Fail open: with Redis down, refusing every login would turn a queue outage
            # into a site outage, and signup already works then (its jobs wait as
            # pending). Passwords are still checked, only not counted, until it is back.
            logger.warning("rate limit skipped name=%s reason=redis-down error=%r", name, exc)
            return 0
        if wait:
            return wait
    return 0


def _digest(value):
    """A fixed-length key for what was typed: case and Unicode width variants together."""
    normal = unicodedata.normalize("NFKC", value.strip()).casefold()
    return hashlib.sha256(normal.encode()).hexdigest()[:32]
