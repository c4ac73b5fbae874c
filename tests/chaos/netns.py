"""Test hosts made of Linux network namespaces, and the servers they share.

For the scale-out case (test_scale_out.py). Each host is a network namespace with one
veth pair whose other end sits on a bridge in the root namespace:

    root namespace: bridge <prefix>.1/24 (Redis, PostgreSQL and the SMTP sink listen here)
        host a: <prefix>.2        host b: <prefix>.3

The /24 is private, lives only on that bridge and its veths, and leaves the machine
nowhere: nothing routes it out and forwarding plays no part. Taking a host's link down
cuts it off the way a pulled cable does: its processes keep running, and every packet
they send is lost, so their connections hang rather than fail.

TwoHostStack is the harness's Stack spread over such hosts: workers on each, the sweeper
on one, and Redis, PostgreSQL and the SMTP sink in the root namespace on the bridge.

Everything here needs root (`ip netns`); `unavailable()` says why it cannot run.
"""

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from aiosmtpd.controller import Controller

from config.redis_server import free_port
from tests.chaos.harness import Stack, procfile_command
from tests.chaos.sentinel import RedisProcess, data_node
from tests.chaos.smtp_server import Sink


def unavailable():
    """Why network namespaces cannot be made here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add); run the chaos suite as root"
    if not shutil.which("ip"):
        return "the ip command (iproute2) is not installed"
    if subprocess.run(["ip", "netns", "list"], capture_output=True).returncode != 0:
        return "`ip netns` does not work on this machine"
    return None


def ip(*arguments):
    subprocess.run(["ip", *arguments], check=True, capture_output=True, text=True)


class Host:
    """One namespace, its address, and the root-side end of its link."""

    def __init__(self, network, letter, address):
        self.name = f"{network.name}-{letter}"
        self.address = address
        self.link = f"{network.name}{letter}"  # the veth end on the bridge; <= 15 characters
        self._inside = f"{self.link}i"

    def command(self, argv):
        """`argv` as it would run on this host. `ip netns exec` execs it: same PID."""
        return ["ip", "netns", "exec", self.name, *argv]

    def cut_off(self):
        """Pull the cable: the host stays up, its packets go nowhere."""
        ip("link", "set", self.link, "down")

    def create(self, network):
        ip("netns", "add", self.name)
        ip("link", "add", self.link, "type", "veth", "peer", "name", self._inside)
        ip("link", "set", self._inside, "netns", self.name)
        ip("link", "set", self.link, "master", network.bridge)
        ip("link", "set", self.link, "up")
        inside = ["-n", self.name]
        ip(*inside, "addr", "add", f"{self.address}/24", "dev", self._inside)
        ip(*inside, "link", "set", self._inside, "up")
        ip(*inside, "link", "set", "lo", "up")

    def remove(self):
        # Deleting the namespace deletes its veth end, and with it the root-side end.
        with contextlib.suppress(subprocess.CalledProcessError):
            ip("netns", "delete", self.name)
        with contextlib.suppress(subprocess.CalledProcessError):
            ip("link", "delete", self.link)


class PrivateNetwork:
    """A bridge in the root namespace on a private /24, and hosts on it.

    Names and the /24 depend on this process's id, so that two test runs side by side
    do not meet. Use it as a context manager: whatever happens, it is all removed.
    """

    def __init__(self, letters=("a", "b")):
        number = os.getpid() % 200
        self.name = f"chx{number}"
        self.prefix = f"10.231.{number + 20}"
        self.address = f"{self.prefix}.1"  # the root namespace's address on the bridge
        self.bridge = f"{self.name}br"
        self.hosts = {
            letter: Host(self, letter, f"{self.prefix}.{index + 2}")
            for index, letter in enumerate(letters)
        }

    @property
    def subnet(self):
        return f"{self.prefix}.0/24"

    def __enter__(self):
        routes = subprocess.run(["ip", "route", "show", self.subnet], capture_output=True)
        if routes.stdout.strip():
            raise RuntimeError(f"{self.subnet} is already in use here: {routes.stdout!r}")
        try:
            ip("link", "add", self.bridge, "type", "bridge")
            ip("addr", "add", f"{self.address}/24", "dev", self.bridge)
            ip("link", "set", self.bridge, "up")
            for host in self.hosts.values():
                host.create(self)
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc_info):
        self.remove()

    def remove(self):
        for host in self.hosts.values():
            host.remove()
        with contextlib.suppress(subprocess.CalledProcessError):
            ip("link", "delete", self.bridge)


def postgres_binaries():
    """The newest Debian PostgreSQL's bin directory, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=_version)
    return Path(found[-1]).parent if found else None


def _version(path):
    return int(Path(path).parent.parent.name)


class PostgresServer:
    """A throwaway PostgreSQL cluster listening on one address, trusting one subnet.

    PostgreSQL refuses to run as root, so the cluster belongs to the `postgres` user
    and lives in a directory of its own under /tmp (pytest's tmp_path is private to
    root). fsync is off: a crash of this server is not what the test is about.
    """

    def __init__(self, address, trusted_subnet, *, database="chaos"):
        self.address = address
        self.trusted_subnet = trusted_subnet
        self.database = database
        self.port = free_port()
        self.bin = postgres_binaries()
        self.directory = None
        self.process = None

    @property
    def url(self):
        return f"postgres://postgres@{self.address}:{self.port}/{self.database}"

    @property
    def log(self):
        return self.directory / "postgres.log"

    def start(self, timeout=30):
        if self.bin is None:
            raise RuntimeError("no PostgreSQL server under /usr/lib/postgresql/*/bin")
        self.directory = Path(tempfile.mkdtemp(prefix="chaos-postgres-"))
        shutil.chown(self.directory, "postgres", "postgres")
        data = self.directory / "data"
        as_postgres = {"user": "postgres", "group": "postgres", "extra_groups": []}
        subprocess.run(
            [self.bin / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync"],
            check=True,
            capture_output=True,
            **as_postgres,
        )
        with open(data / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all {self.trusted_subnet} trust\n")
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [
                    self.bin / "postgres", "-D", data,
                    "-c", f"listen_addresses={self.address}",
                    "-c", f"port={self.port}",
                    "-c", f"unix_socket_directories={self.directory}",
                    "-c", "fsync=off",
                    "-c", "max_connections=200",
                    # As a production server should: a client whose host was cut off
                    # never closes its connection, and Linux's default keepalive would
                    # let an open transaction of its hold its locks for two hours.
                    "-c", "tcp_keepalives_idle=2",
                    "-c", "tcp_keepalives_interval=1",
                    "-c", "tcp_keepalives_count=3",
                    "-c", "idle_in_transaction_session_timeout=10s",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                **as_postgres,
            )  # fmt: skip
        try:
            self._wait_until_it_answers(timeout)
            with self.connect("postgres") as connection:
                connection.execute(f'CREATE DATABASE "{self.database}"')
        except BaseException:
            self.stop()
            raise
        return self

    def connect(self, database=None):
        return psycopg.connect(
            host=self.address,
            port=self.port,
            user="postgres",
            dbname=database or self.database,
            autocommit=True,
            connect_timeout=2,
        )

    def _wait_until_it_answers(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited; see {self.log}:\n{self.log.read_text()}")
            try:
                self.connect("postgres").close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"postgres did not answer; see {self.log}") from None
                time.sleep(0.1)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            # SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients, such
            # as the connections of a host that was cut off and will never say goodbye.
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)


class TwoHostStack(Stack):
    """The harness's Stack, its workers spread over the hosts of a PrivateNetwork.

    Redis, PostgreSQL and the SMTP sink listen on the bridge, where every host reaches
    them; the sweeper runs on `sweeper_host`. No process is restarted when it exits:
    nothing here makes a worker quit, except the cut, and a restart could not help then.
    """

    def __init__(self, directory, network, postgres, *, workers_per_host, sweeper_host):
        super().__init__(directory, workers=0, supervise=False)
        self.network, self.postgres = network, postgres
        self.workers_per_host, self.sweeper_host = workers_per_host, sweeper_host
        # Redis refuses clients from other addresses than loopback unless told otherwise;
        # the bridge is private to this test.
        self.redis_server = RedisProcess(
            "redis",
            self.directory / "redis",
            lambda node: data_node(node, "--protected-mode", "no"),
            host=network.address,
        )
        self.smtp_controller = None

    def start(self):
        self.redis_server.start()
        self.start_smtp()
        started = [
            self.start_worker(host, wait=False)
            for host in self.network.hosts.values()
            for _ in range(self.workers_per_host)
        ]
        for worker in started:
            self.worker_name(worker)
        sweeper = self.network.hosts[self.sweeper_host].command(procfile_command("sweeper"))
        self.sweeper = self._spawn("sweeper", sweeper)
        return self

    def env(self):
        return {
            **super().env(),
            "DATABASE_URL": self.postgres.url,
            "EMAIL_URL": f"smtp://{self.network.address}:{self.smtp_port}",
        }

    def start_worker(self, host, *, wait=True):
        """A worker on `host`, started as the Procfile says; it knows its host."""
        with self._lock:
            name = f"worker-{host.name}-{len(self.workers)}"
            worker = self._spawn_unlocked(name, host.command(procfile_command("worker")))
            worker.rq_name, worker.replaced, worker.host = None, False, host
            self.workers.append(worker)
        if wait:
            self.worker_name(worker)
        return worker

    def workers_on(self, host):
        return [worker for worker in self.workers if worker.host is host]

    def start_smtp(self, *, refuse=False):
        # The harness's sink, in this process: its own command listens on loopback only.
        self.smtp_controller = Controller(
            Sink(self.mail_file, refuse), hostname=self.network.address, port=self.smtp_port
        )
        self.smtp_controller.start()

    def close(self, *, show_logs=False):
        try:
            super().close(show_logs=show_logs)
        finally:
            if self.smtp_controller is not None:
                self.smtp_controller.stop()
