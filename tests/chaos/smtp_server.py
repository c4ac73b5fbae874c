"""An SMTP sink to run as its own process, so that a fault test can kill it by PID.

    python tests/chaos/smtp_server.py --port 2525 --out mail.jsonl [--refuse]

Every message it accepts is appended to --out as one JSON line, {"to", "subject",
"message_id", "at"}, written and flushed before the 250 reply: a message on the list was
received; whether the client heard the reply is the client's business. With --refuse it
answers every message with 451 (try again later) and records nothing, the way a
throttling or overloaded mail server does. It runs until it is killed.
"""

import argparse
import json
import signal
import threading
import time
from email import message_from_bytes
from email.policy import default as default_policy

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out, refuse):
        self.out = out
        self.refuse = refuse
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return "451 4.3.0 Try again later"
        message = message_from_bytes(envelope.content, policy=default_policy)
        line = {
            "to": sorted(envelope.rcpt_tos),
            "subject": str(message["Subject"]),
            "message_id": str(message["Message-ID"]),
            "at": time.time(),
        }
        with self.lock, open(self.out, "a") as out:
            out.write(json.dumps(line) + "\n")
        return "250 OK"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--refuse", action="store_true")
    options = parser.parse_args()
    controller = Controller(
        Sink(options.out, options.refuse), hostname="127.0.0.1", port=options.port
    )
    controller.start()
    print(f"smtp sink on 127.0.0.1:{options.port} refuse={options.refuse}", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    stopped.wait()
    controller.stop()


if __name__ == "__main__":
    main()
