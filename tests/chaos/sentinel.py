"""A Redis primary, one replica and three Sentinels, all private processes on loopback.

For the failover case (test_failover.py). The Sentinels are tuned to notice a dead
primary within a second and to finish a failover within a few, where production
defaults take half a minute; nothing else differs from a real deployment.

SentinelStack is the harness's Stack (workers, sweeper, SMTP sink as real processes)
with this setup in place of its single redis-server: every process it starts finds
Redis through the Sentinels (REDIS_SENTINELS, REDIS_SENTINEL_MASTER).
"""

import signal
import subprocess
import time
from pathlib import Path

import redis

from config.redis_server import find_redis_server, free_port
from tests.chaos.harness import Stack

HOST = "127.0.0.1"
MASTER_NAME = "chaos"
DOWN_AFTER_MILLISECONDS = 1000
FAILOVER_TIMEOUT_MILLISECONDS = 5000


class RedisProcess:
    """One redis-server (or redis-server --sentinel) child, logging to a file.

    `arguments(node)` makes its command line; `host` is the address it listens on.
    """

    def __init__(self, name, directory, arguments, *, host=HOST, port=None):
        self.name = name
        self.host = host
        self.directory = Path(directory)
        self.port = port or free_port()
        self.arguments = arguments
        self.process = None

    @property
    def log(self):
        return self.directory / f"{self.name}.log"

    def start(self, timeout=10):
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [find_redis_server(), *self.arguments(self)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        client = self.client(timeout=0.2)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log}")
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"{self.name} did not answer within {timeout}s") from None
                time.sleep(0.05)

    @property
    def url(self):
        return f"redis://{self.host}:{self.port}/0"

    def client(self, timeout=1.0):
        return redis.Redis(
            host=self.host, port=self.port, socket_timeout=timeout, socket_connect_timeout=timeout
        )

    def kill(self):
        """SIGKILL: no shutdown save, no goodbye to the replicas, like a host that dies."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def freeze(self):
        """SIGSTOP: alive but deaf, as a replica that lags behind its primary."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self):
        self.process.send_signal(signal.SIGCONT)

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.thaw()  # a stopped process never handles SIGTERM
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def data_node(node, *extra):
    """Arguments of a primary or replica: in memory only, so a killed one loses what it had."""
    return [
        "--bind", node.host,
        "--port", str(node.port),
        "--dir", str(node.directory),
        "--save", "",
        "--appendonly", "no",
        "--logfile", str(node.log),
        *extra,
    ]  # fmt: skip


class SentinelSetup:
    """Primary, replica and three Sentinels watching them under MASTER_NAME."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.primary = RedisProcess("primary", directory, data_node)
        self.replica = RedisProcess(
            "replica",
            directory,
            lambda node: data_node(node, "--replicaof", HOST, str(self.primary.port)),
        )
        self.sentinels = [
            RedisProcess(f"sentinel-{number}", directory, self._sentinel_arguments)
            for number in (1, 2, 3)
        ]

    @property
    def environment(self):
        """What every process of the app needs to find Redis through the Sentinels."""
        addresses = ",".join(f"{HOST}:{sentinel.port}" for sentinel in self.sentinels)
        return {"REDIS_SENTINELS": addresses, "REDIS_SENTINEL_MASTER": MASTER_NAME}

    def _sentinel_arguments(self, sentinel):
        # Sentinel insists on a config file it can rewrite (it records what it learns).
        config = self.directory / f"{sentinel.name}.conf"
        config.write_text(
            "\n".join(
                [
                    f"bind {HOST}",
                    f"port {sentinel.port}",
                    f"dir {self.directory}",
                    f"logfile {sentinel.log}",
                    # Two of three must agree the primary is down before one fails it over.
                    f"sentinel monitor {MASTER_NAME} {HOST} {self.primary.port} 2",
                    f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MILLISECONDS}",
                    f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MILLISECONDS}",
                    "",
                ]
            )
        )
        return [str(config), "--sentinel"]

    def start(self):
        try:
            self.primary.start()
            self.replica.start()
            self._wait(self._replica_is_in_sync, "the replica to sync with the primary")
            for sentinel in self.sentinels:
                sentinel.start()
            self._wait(self._sentinels_can_fail_over, "the Sentinels to find each other")
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def url(self):
        """The current primary's URL, for a look at Redis from outside the app."""
        host, port = self.primary_address()
        return f"redis://{host}:{port}/0"

    def cut_replication(self):
        """From now on the primary's writes reach no replica, as with a lagging replica.

        Replication is asynchronous: the primary acknowledges a write before any replica
        has it. Here that window is held open: the replica is frozen so that it cannot
        reconnect, then its link is closed. What it had received until then is in its
        socket buffer and survives; every later write lives on the primary alone.
        """
        self.replica.freeze()
        self.primary.client().client_kill_filter(_type="replica")

    def kill_primary(self):
        """SIGKILL the primary, with what only it had, and let the replica run again."""
        self.primary.kill()
        self.replica.thaw()

    def primary_address(self):
        """The primary as the Sentinels name it now: (host, port)."""
        for sentinel in self.sentinels:
            try:
                host, port = sentinel.client().sentinel_get_master_addr_by_name(MASTER_NAME)
                return host.decode(), int(port)
            except (redis.ConnectionError, redis.TimeoutError, TypeError):
                continue
        raise RuntimeError("no Sentinel answered")

    def wait_for_failover(self, timeout=30):
        """Wait until the Sentinels have promoted the replica, and it acts as primary."""
        self._wait(
            lambda: (
                self.primary_address() == (HOST, self.replica.port)
                and self.replica.client().info("replication")["role"] == "master"
            ),
            "the Sentinels to promote the replica",
            timeout=timeout,
        )

    def stop(self):
        for node in [*self.sentinels, self.replica, self.primary]:
            node.stop()

    def _replica_is_in_sync(self):
        return self.replica.client().info("replication").get("master_link_status") == "up"

    def _sentinels_can_fail_over(self):
        for sentinel in self.sentinels:
            client = sentinel.client()
            replicas = client.sentinel_slaves(MASTER_NAME)
            state = client.sentinel_master(MASTER_NAME)
            if not replicas or state["num-other-sentinels"] < len(self.sentinels) - 1:
                return False
        return True

    def _wait(self, condition, what, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            try:
                if condition():
                    return
            except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
                pass
            if time.monotonic() > deadline:
                logs = ", ".join(str(path) for path in sorted(self.directory.glob("*.log")))
                raise RuntimeError(f"gave up waiting {timeout}s for {what}; see {logs}")
            time.sleep(0.1)


class SentinelStack(Stack):
    """The harness's Stack, with Redis behind Sentinels instead of one redis-server."""

    def __init__(self, directory, **options):
        super().__init__(directory, **options)
        # Stack starts, reads (`.url`) and stops its redis_server; this one does all three.
        self.sentinel_setup = self.redis_server = SentinelSetup(self.directory / "redis")

    def env(self):
        return {**super().env(), **self.sentinel_setup.environment}
