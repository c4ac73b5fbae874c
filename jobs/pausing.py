"""Pausing one queue: its workers stop taking its jobs, and the jobs wait in it.

RQ can suspend every worker at once (`rq suspend`), not one queue. Here a queue is
paused while its name is in one Redis set, `jobs:paused-queues`, and the workers of
jobs.worker take jobs only from the queues not in it:

- the SimpleWorker's take() script (jobs.bookkeeping) skips a paused queue, inside the
  script, so looking costs no round trip;
- when nothing can be taken, a worker waits in a blocking pop on the queues that are not
  paused. A queue paused during that wait can still hand it a job: claim(), the script
  that reads the popped job (as RQ's own wait does next), looks at the set too and puts
  such a job back at the head of its queue, all in one step;
- with one of its queues paused, a worker waits a few seconds at a time and then reads
  the set again, so that it notices a resume; with all of them paused it idles, and in
  burst mode it stops as if they were empty (jobs.worker.PausableMixin).

Nothing else changes. Jobs still arrive in a paused queue (enqueues, delayed jobs and
retries that come due, the sweeper's re-pushes) and wait there; a job already running
finishes; `rq suspend` still stops every worker.
"""

from __future__ import annotations

from rq.job import Job
from rq.queue import Queue
from rq.utils import as_text, get_version

from jobs import connections

KEY = "jobs:paused-queues"


def pause(name, *, connection=None):
    """Pause queue `name`. Returns False if it was paused already."""
    return bool(_connection(name, connection).sadd(KEY, name))


def resume(name, *, connection=None):
    """Resume queue `name`. Returns False if it was not paused."""
    return bool(_connection(name, connection).srem(KEY, name))


def paused(*, connection=None):
    """The names of the paused queues."""
    connection = connection or connections.get_connection("default")
    return {as_text(name) for name in connection.smembers(KEY)}


def _connection(name, connection):
    return connection or connections.get_connection(name)


# KEYS: the paused set, then the queues to pop from, in order.
# ARGV: the queue key prefix, the job key prefix, "1" to move the job into its queue's
#       intermediate list as RQ does for a worker with one queue (Redis 6.2 and later).
# Returns {queue key, job id, the job's hash}, or {0, the names of those queues that are
# paused} when the others are empty. Ids whose job no longer exists are skipped, as RQ does.
POP = """
local paused = {0}
for i = 2, #KEYS do
    local queue_key = KEYS[i]
    local name = string.sub(queue_key, #ARGV[1] + 1)
    if redis.call('SISMEMBER', KEYS[1], name) == 1 then
        table.insert(paused, name)
    else
        local intermediate = queue_key .. ':intermediate'
        while true do
            local job_id
            if ARGV[3] == '1' then
                job_id = redis.call('LMOVE', queue_key, intermediate, 'LEFT', 'RIGHT')
            else
                job_id = redis.call('LPOP', queue_key)
            end
            if not job_id then
                break
            end
            local job = redis.call('HGETALL', ARGV[2] .. job_id)
            if #job > 0 then
                return {queue_key, job_id, job}
            end
            if ARGV[3] == '1' then
                redis.call('LREM', intermediate, 1, job_id)
            end
        end
    end
end
return paused
"""

# KEYS: the paused set, the queue a blocking pop took the job from, its intermediate
#       list, the job.
# ARGV: the queue's name, the job id, "1" if the pop moved the job to the intermediate list.
# Returns {1, the job's hash (empty if the job no longer exists), paused queue names...},
# or {0, {}, paused queue names...} when the queue is paused and the job went back.
CLAIM = """
local reply = {1, {}}
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then
    if ARGV[3] == '1' then
        redis.call('LREM', KEYS[3], 1, ARGV[2])
    end
    redis.call('LPUSH', KEYS[2], ARGV[2])
    reply[1] = 0
else
    reply[2] = redis.call('HGETALL', KEYS[4])
    if #reply[2] == 0 and ARGV[3] == '1' then
        redis.call('LREM', KEYS[3], 1, ARGV[2])
    end
end
for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    table.insert(reply, name)
end
return reply
"""


def pop(worker, queues, timeout):
    """The next job of `queues` (in order) for `worker`, skipping paused ones, or None.

    `timeout` None: look once, in one round trip. Otherwise wait up to `timeout` seconds
    in a blocking pop, then read the job as claim() does: two round trips, as RQ's wait
    makes. None also when the job's queue turned out to be paused (the job went back) or
    the job no longer exists; the worker then looks again. Either way, the worker learns
    which of its queues are paused (worker.paused_queues_seen()).
    """
    connection = worker.connection
    moved = len(worker.queues) == 1 and get_version(connection) >= (6, 2, 0)
    if timeout is None:
        keys = [KEY, *(queue.key for queue in queues)]
        args = [Queue.redis_queue_namespace_prefix, Job.redis_job_namespace_prefix, int(moved)]
        reply = connections.script(connection, POP)(keys=keys, args=args, client=connection)
        if reply[0] == 0:
            worker.paused_queues_seen(as_text(name) for name in reply[1:])
            return None
        queue_key, job_id, fields = as_text(reply[0]), as_text(reply[1]), reply[2]
    else:
        if moved:
            [queue] = queues
            job_id = connection.blmove(queue.key, queue.intermediate_queue_key, timeout)
            if job_id is None:
                return None
            queue_key = queue.key
        else:
            popped = connection.blpop([queue.key for queue in queues], timeout)
            if popped is None:
                return None
            queue_key, job_id = map(as_text, popped)
        job_id = as_text(job_id)
        queue = _queue_of(worker, queue_key)
        keys = [KEY, queue.key, queue.intermediate_queue_key, Job.key_for(job_id)]
        reply = connections.script(connection, CLAIM)(
            keys=keys, args=[queue.name, job_id, int(moved)], client=connection
        )
        worker.paused_queues_seen(as_text(name) for name in reply[2:])
        if reply[0] == 0:
            worker.log.info(
                "Worker %s: %s is paused, %s went back", worker.name, queue.name, job_id
            )
            return None
        fields = reply[1]
        if not fields:
            return None
    queue = _queue_of(worker, queue_key)
    job = worker.job_class(job_id, connection=connection, serializer=worker.serializer)
    try:
        job.restore(dict(zip(fields[::2], fields[1::2], strict=True)))
    except Exception as exc:  # as RQ's own dequeue reports it
        exc.job_id, exc.queue = job_id, queue
        raise
    return job, queue


def _queue_of(worker, queue_key):
    return next(queue for queue in worker.queues if queue.key == queue_key)
