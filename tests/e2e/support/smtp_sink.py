"""A real SMTP server for the end-to-end tests: aiosmtpd on a loopback port, writing each
message it accepts to a folder as JSON (envelope, headers, and the plain-text body decoded
by Python's email package), one file per message, written whole (aside, then renamed).

    python3 smtp_sink.py PORT DIR [--starttls CERT KEY] [--auth USER PASSWORD]

With --starttls it offers STARTTLS with that certificate; with --auth it takes AUTH (only
over TLS) with those credentials and refuses mail without it. Prints "ready" once it
listens; runs until it is killed.
"""

import email
import email.policy
import json
import os
import ssl
import sys
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Sink:
    def __init__(self, folder):
        self.folder = folder
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_to": envelope.rcpt_tos,
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "subject": str(msg["Subject"]),
            "message_id": str(msg["Message-ID"]),
            "date": str(msg["Date"]),
            "content_type": msg.get_content_type(),
            "text": body.get_content() if body is not None else "",
        }
        with self.lock:
            self.count += 1
            name = f"{time.time_ns()}-{self.count:04}"
        partial = os.path.join(self.folder, f".{name}.partial")
        with open(partial, "w") as f:
            json.dump(record, f)
        os.rename(partial, os.path.join(self.folder, f"{name}.json"))
        return "250 Message accepted"


def option(name, count):
    if name not in sys.argv:
        return None
    i = sys.argv.index(name)
    return sys.argv[i + 1 : i + 1 + count]


def main():
    port, folder = int(sys.argv[1]), sys.argv[2]
    settings = {}
    starttls = option("--starttls", 2)
    if starttls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*starttls)
        settings.update(tls_context=context, require_starttls=True)
    auth = option("--auth", 2)
    if auth:
        user, password = (a.encode() for a in auth)

        def check(server, session, envelope, mechanism, data):
            ok = data.login == user and data.password == password
            return AuthResult(success=ok)

        settings.update(authenticator=check, auth_required=True, auth_require_tls=True)
    controller = Controller(Sink(folder), hostname="127.0.0.1", port=port, **settings)
    controller.start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
