"""A real SMTP server for tests (aiosmtpd), to receive mail from worker processes and to
fail on purpose: it answers "451 try again later" to as many messages as it is told to."""

import threading
import time

from aiosmtpd.controller import Controller

from config.redis_server import free_port


class SmtpSink:
    def __init__(self):
        self.received = []  # (arrival time, recipient)
        self.refuse_next = 0
        self._lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    @property
    def url(self):
        return f"smtp://127.0.0.1:{self.controller.port}"

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            if self.refuse_next:
                self.refuse_next -= 1
                return "451 Try again later"
            for recipient in envelope.rcpt_tos:
                self.received.append((time.time(), recipient))
        return "250 OK"

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()
