"""RQ's bookkeeping for one job in two Redis round trips instead of 18 to 28.

RQ's own SimpleWorker, from taking a job off its queue to taking the next, makes 28 round
trips for a tracked job that returns (bench/profiles/worker.txt), and 18 once its
heartbeat is throttled (jobs.worker): a pop and a read of the job, one pipeline to
create the job's Execution, another to mark the job started, a WATCH and a read of the
job's dependents, a read of each of its executions, the pipeline that records the
outcome, and a write of the worker's state on each side. On a no-op job those round
trips, and the Python that builds them, cost more than the job (docs/performance.md).

jobs.worker.SimpleWorker makes two instead, leaving Redis exactly as RQ would:

- `take()`: one Lua script that pops the next job from the worker's queues, in their
  order and skipping paused ones (jobs.pausing), reads it, and starts it: what RQ's
  dequeue, `prepare_execution()` and `prepare_job_execution()` do (the Execution, the
  started registry, the job's status, the worker's state and heartbeat). The job moves
  from its queue to the started registry atomically, so no crash can lose it in
  between. When every queue is empty, the worker waits in a blocking pop
  (jobs.pausing.pop()), and `start()` does the rest in one pipeline;
- `finish()`: one Lua script that does what RQ's `handle_job_success()` does for a job
  whose result is not kept (`result_ttl=0`, the default of jobs.base): delete the job,
  its executions and its registry entries, and count the success on the worker. The
  script runs atomically, so a dependent added while the job ran is never missed: if
  the job has dependents, it changes nothing and says so, and the worker hands the job
  to RQ's own `handle_job_success()`, which moves them.

Anything else RQ does on success (keeping a result, a success callback, webhooks, a
group, a rate limit, a repeat, a `Retry` returned by the job) goes through RQ's own
code: `fits()` says whether a job may take the short path. A job that raises always
goes through RQ's own failure handling. tests/jobs/test_bookkeeping.py checks, key by
key, that Redis holds what RQ's own worker leaves, while a job runs and after it, on
either way of starting it.

The key layout is RQ 3.0's, which requirements.txt pins.
"""

from __future__ import annotations

import uuid

from rq import Retry
from rq.defaults import DEFAULT_WORKER_TTL, RQ_KEY_PREFIX
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.results import Result
from rq.utils import as_text, current_timestamp, now, utcformat
from rq.worker import WorkerStatus

from jobs import connections, pausing

# KEYS: the job's dependents, the job, its dependencies, its results, its executions,
#       the queue's started registry, the worker.
# ARGV: the job id, the run time in seconds, the key prefix, the worker's idle state.
# Returns 1 when done, 0 (and nothing changed) when the job has dependents.
FINISH = """
if redis.call('EXISTS', KEYS[1]) == 1 then
    return 0
end
local prefix = ARGV[3]
for _, execution_id in ipairs(redis.call('ZRANGE', KEYS[5], 0, -1)) do
    local composite = ARGV[1] .. ':' .. execution_id
    local execution_key = prefix .. ':execution:' .. composite
    local worker_name = redis.call('HGET', execution_key, 'worker_name')
    redis.call('DEL', execution_key)
    redis.call('ZREM', KEYS[6], composite)
    if worker_name and worker_name ~= '' then
        redis.call('SREM', prefix .. ':worker:' .. worker_name .. ':executions', composite)
    end
end
redis.call('DEL', KEYS[5], KEYS[2], KEYS[1], KEYS[3], KEYS[4])
redis.call('HINCRBY', KEYS[7], 'successful_job_count', 1)
redis.call('HINCRBYFLOAT', KEYS[7], 'total_working_time', ARGV[2])
redis.call('HSET', KEYS[7], 'state', ARGV[4])
return 1
"""

# KEYS: the paused queues' set (jobs.pausing), then the worker's queues, in order.
# ARGV: the job key prefix, the key prefix, a new execution id, the worker's name, the
#       worker's key, the time now (seconds, integer), the time now (seconds, float),
#       the time now as RQ writes it in a job, RQ's default worker TTL, the busy state,
#       the queue key prefix.
# Returns {queue key, job id, the job's hash} with the job started, {queue key, job id,
# the job's hash, 0} if its timeout is not a number of seconds (left for start()), or
# {0, the names of the worker's paused queues} when every other queue is empty. Paused
# queues are skipped; ids whose job no longer exists are skipped, as RQ does.
TAKE = """
local paused = {0}
for q = 2, #KEYS do
    local queue_key = KEYS[q]
    local name = string.sub(queue_key, #ARGV[11] + 1)
    local open = redis.call('SISMEMBER', KEYS[1], name) == 0
    if not open then
        table.insert(paused, name)
    end
    while open do
        local job_id = redis.call('LPOP', queue_key)
        if not job_id then
            break
        end
        local job_key = ARGV[1] .. job_id
        local job = redis.call('HGETALL', job_key)
        if #job > 0 then
            local fields = {}
            for i = 1, #job, 2 do
                fields[job[i]] = job[i + 1]
            end
            local default_ttl = tonumber(ARGV[9])
            local ttl
            if fields['timeout'] == nil or fields['timeout'] == '' then
                ttl = default_ttl + 60
            elseif fields['timeout'] == '-1' then
                ttl = default_ttl
            else
                local timeout = tonumber(fields['timeout'])
                if timeout == nil then
                    return {queue_key, job_id, job, 0}
                end
                ttl = math.floor(timeout) + 60
            end
            local prefix, execution_id, worker_name = ARGV[2], ARGV[3], ARGV[4]
            local composite = job_id .. ':' .. execution_id
            local execution_key = prefix .. ':execution:' .. composite
            local executions_key = prefix .. ':executions:' .. job_id
            local worker_executions_key = prefix .. ':worker:' .. worker_name .. ':executions'
            local now, now_float, stamp = tonumber(ARGV[6]), ARGV[7], ARGV[8]
            redis.call('HSET', execution_key, 'id', execution_id, 'job_id', job_id,
                'created_at', now_float, 'last_heartbeat', now_float,
                'worker_name', worker_name)
            redis.call('EXPIRE', execution_key, ttl)
            redis.call('ZADD', executions_key, now + ttl + 60, execution_id)
            redis.call('EXPIRE', executions_key, ttl + 60)
            redis.call('ZADD', prefix .. ':wip:' .. fields['origin'], now + ttl, composite)
            redis.call('SADD', worker_executions_key, composite)
            redis.call('EXPIRE', worker_executions_key, ttl + 60)
            redis.call('HSET', ARGV[5], 'state', ARGV[10], 'last_heartbeat', stamp)
            redis.call('EXPIRE', ARGV[5], ttl)
            redis.call('EXPIRE', worker_executions_key, ttl)
            redis.call('HSET', job_key, 'last_heartbeat', stamp, 'status', 'started',
                'started_at', stamp, 'worker_name', worker_name)
            redis.call('PERSIST', job_key)
            return {queue_key, job_id, job}
        end
    end
end
return paused
"""


def take(worker):
    """Pop the next job from `worker`'s queues and start it, in one round trip.

    Returns (job, queue, execution), or None when every queue not paused is empty; then
    the worker learns which of its queues are paused (worker.paused_queues_seen()).
    """
    connection = worker.connection
    execution_id = uuid.uuid4().hex
    right_now = now()
    stamp = utcformat(right_now)
    args = [
        Job.redis_job_namespace_prefix,
        RQ_KEY_PREFIX,
        execution_id,
        worker.name,
        worker.key,
        current_timestamp(),
        repr(right_now.timestamp()),
        stamp,
        DEFAULT_WORKER_TTL,
        WorkerStatus.BUSY,
        Queue.redis_queue_namespace_prefix,
    ]
    keys = [pausing.KEY, *(queue.key for queue in worker._ordered_queues)]
    taken = connections.script(connection, TAKE)(keys=keys, args=args, client=connection)
    if taken[0] == 0:
        worker.paused_queues_seen(as_text(name) for name in taken[1:])
        return None
    queue_key, job_id, fields = as_text(taken[0]), as_text(taken[1]), taken[2]
    queue = next(queue for queue in worker.queues if queue.key == queue_key)
    job = worker.job_class(job_id, connection=connection, serializer=worker.serializer)
    job.restore(dict(zip(fields[::2], fields[1::2], strict=True)))
    if len(taken) > 3:  # a timeout RQ writes otherwise: start it the long way
        return job, queue, start(worker, job)
    job.worker_name = worker.name
    job.last_heartbeat = job.started_at = right_now
    job._status = JobStatus.STARTED
    execution = Execution(id=execution_id, job_id=job.id, connection=connection)
    execution.worker_name = worker.name
    execution.created_at = execution.last_heartbeat = right_now
    execution._job = job
    worker.executions[execution.id] = execution
    worker._state = WorkerStatus.BUSY
    worker.last_heartbeat = right_now
    return job, queue, execution


def start(worker, job: Job) -> Execution:
    """RQ's prepare_execution() and prepare_job_execution(), in one pipeline."""
    ttl = worker.get_heartbeat_ttl(job)
    with worker.connection.pipeline(transaction=False) as pipeline:
        execution = Execution.create(job, ttl, pipeline=pipeline, worker_name=worker.name)
        worker.executions[execution.id] = execution
        worker.set_state(WorkerStatus.BUSY, pipeline=pipeline)
        worker.heartbeat(ttl, pipeline=pipeline)
        job.heartbeat(now(), ttl, pipeline=pipeline)
        job.prepare_for_execution(worker.name, pipeline=pipeline)
        pipeline.persist(job.key)
        if len(worker.queues) == 1:  # RQ dequeued it with BLMOVE, into this list
            pipeline.lrem(worker.queues[0].intermediate_queue_key, 1, job.id)
        pipeline.execute()
    return execution


def fits(worker, job: Job, return_value) -> bool:
    """Whether RQ would do nothing on this job's success but delete it and count it."""
    return (
        job.get_result_ttl(worker.default_result_ttl) == 0
        and not job._success_callback_name
        and not job.webhooks
        and not job.group_id
        and not job.has_rate_limit
        and not job.repeats_left
        and not isinstance(return_value, Retry)
    )


def finish(worker, job: Job, execution: Execution) -> bool:
    """RQ's handle_job_success() for a job whose result is not kept, in one script.

    Returns False, having changed nothing, when the job has dependents.
    """
    connection = worker.connection
    job.ended_at = now()
    working_time = (job.ended_at - job.started_at).total_seconds()
    keys = [
        job.dependents_key,
        job.key,
        job.dependencies_key,
        Result.get_key(job.id),
        job.execution_registry.key,
        job.started_job_registry.key,
        worker.key,
    ]
    args = [job.id, repr(working_time), RQ_KEY_PREFIX, WorkerStatus.IDLE]
    if not connections.script(connection, FINISH)(keys=keys, args=args, client=connection):
        return False
    worker.executions.pop(execution.id, None)
    worker._state = WorkerStatus.IDLE
    job._status = JobStatus.FINISHED
    return True
