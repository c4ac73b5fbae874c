"""What RQ keeps in Redis, with the names that differ between two runs taken out."""

import re
import time

_EXECUTION_ID = re.compile(r"[0-9a-f]{32}")
_HASH_VALUES_KEPT = {"status", "state", "successful_job_count", "failed_job_count"}


def snapshot(connection, job_id, worker_name):
    """{key: (type, contents, expiry)} for RQ's keys, with the job id, the worker's name
    and execution ids replaced by J, W and E. Hashes keep their field names, and the
    values of the fields that say what state things are in; timestamps differ between
    runs. Sorted sets keep each member's score, and every key its TTL, as seconds from
    now to the nearest ten."""

    def plain(text):
        text = text.decode() if isinstance(text, bytes) else str(text)
        text = text.replace(job_id, "J").replace(worker_name, "W")
        return _EXECUTION_ID.sub("E", text)

    state = {}
    for raw_key in connection.scan_iter("rq:*"):
        key = plain(raw_key)
        kind = connection.type(raw_key).decode()
        if kind == "hash":
            fields = connection.hgetall(raw_key)
            contents = {
                plain(name): plain(value) if plain(name) in _HASH_VALUES_KEPT else "*"
                for name, value in fields.items()
            }
        elif kind == "zset":
            members = connection.zrange(raw_key, 0, -1, withscores=True)
            contents = sorted((plain(member), _from_now(score)) for member, score in members)
        elif kind == "set":
            contents = sorted(plain(member) for member in connection.smembers(raw_key))
        elif kind == "list":
            contents = [plain(item) for item in connection.lrange(raw_key, 0, -1)]
        else:
            contents = kind
        state[key] = (kind, contents, _tens(connection.ttl(raw_key)))
    return state


def _from_now(timestamp):
    return _tens(timestamp - time.time())


def _tens(seconds):
    return seconds if seconds < 0 else round(seconds / 10) * 10
