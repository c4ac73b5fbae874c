"""Who may use the operations console: two Django permissions, checked on every view.

- `jobs.view_ops` lets a person look at every ops page: queues, workers, charts, job
  search and timelines, tracebacks, the audit trail.
- `jobs.act_ops` lets them change things: requeue, delete, cancel, run now, pause and
  resume a queue. Acting also needs `view_ops`, since every action starts from a page.

Superusers have both. Staff status alone grants neither: give the permissions to a
group (Admin > Groups) and put people in it. An action's confirmation page is part of
the action, so it needs `act_ops` too, and a read-only person never sees a button that
would be refused.
"""

import functools

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from redis.exceptions import RedisError

VIEW = "jobs.view_ops"
ACT = "jobs.act_ops"


def can_view(user):
    return user.has_perm(VIEW)


def can_act(user):
    return user.has_perm(VIEW) and user.has_perm(ACT)


def _guard(allowed):
    def decorator(view):
        """Anonymous visitors are sent to log in; those without the permission get a 403.

        Every ops page reads Redis; when it does not answer, they get a page that says so
        (503) rather than a server error.
        """

        @functools.wraps(view)
        def check(request, *args, **kwargs):
            if not allowed(request.user):
                raise PermissionDenied
            try:
                return view(request, *args, **kwargs)
            except RedisError as exc:
                return render(request, "ops/redis_down.html", {"error": exc}, status=503)

        return login_required(never_cache(check))

    return decorator


ops_view = _guard(can_view)
"""For pages that only look: needs `jobs.view_ops`."""

ops_action = _guard(can_act)
"""For actions and their confirmation pages: needs `jobs.view_ops` and `jobs.act_ops`."""
