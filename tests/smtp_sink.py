#!/usr/bin/env python3
"""A real SMTP server for Rampart's mail tests (aiosmtpd).

Every accepted message is written to --dir twice, each atomically (temporary file, then
rename): NAME.eml holds the message as received, NAME.json what the tests check (envelope,
headers, text and HTML parts decoded, the links of the HTML part as a mail client reads
them, whether TLS and authentication were used). With --defer, every message is answered
"451" after its content arrived, and its summary is written as NAME.deferred.json instead.

Prints "READY <port>" on standard output once it listens (with --port 0, the port the
system chose).
"""

import argparse
import asyncio
import email
import email.policy
import html.parser
import itertools
import json
import os
import ssl
import sys
import time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def write_atomically(path, data):
    temporary = path + ".tmp"
    with open(temporary, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.rename(temporary, path)


def part(message, subtype):
    body = message.get_body(preferencelist=(subtype,))
    return None if body is None else body.get_content()


class Links(html.parser.HTMLParser):
    """The href of every <a>, entities decoded as a mail client would."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.found.extend(value for name, value in attrs if name == "href")


def links(markup):
    if markup is None:
        return []
    parser = Links()
    parser.feed(markup)
    parser.close()
    return parser.found


class Sink:
    def __init__(self, directory, reject_rcpt, implicit_tls, defer):
        self.directory = directory
        self.reject_rcpt = reject_rcpt
        self.implicit_tls = implicit_tls
        self.defer = defer
        self.counter = itertools.count()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject_rcpt and self.reject_rcpt in address:
            return "550 5.1.1 <%s>: recipient rejected by the test sink" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        name = "%020d-%06d" % (time.time_ns(), next(self.counter))
        summary = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(parsed.get("From", "")),
            "to": str(parsed.get("To", "")),
            "subject": str(parsed.get("Subject", "")),
            "message_id": str(parsed.get("Message-ID", "")),
            "content_type": parsed.get_content_type(),
            "text": part(parsed, "plain"),
            "html": part(parsed, "html"),
            "links": links(part(parsed, "html")),
            "tls": self.implicit_tls or session.ssl is not None,
            "authenticated": bool(session.authenticated),
        }
        path = os.path.join(self.directory, name)
        if self.defer:
            write_atomically(path + ".deferred.json", json.dumps(summary).encode())
            return "451 4.3.0 Deferred by the test sink: try again later"
        write_atomically(path + ".eml", raw)
        write_atomically(path + ".json", json.dumps(summary).encode())
        return "250 2.0.0 Ok: queued as %s" % name


def tls_context(cert, key):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def authenticator(expected):
    user, _, password = expected.partition(":")

    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        # handled=False: aiosmtpd then answers "535 5.7.8 Authentication credentials invalid".
        return AuthResult(success=ok, handled=False)

    return check


async def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--dir", required=True)
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    modes.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--auth", metavar="USER:PASSWORD")
    parser.add_argument("--reject-rcpt", metavar="SUBSTRING")
    parser.add_argument("--defer", action="store_true")
    args = parser.parse_args()

    os.makedirs(args.dir, exist_ok=True)
    loop = asyncio.get_running_loop()
    handler = Sink(args.dir, args.reject_rcpt, bool(args.tls), args.defer)
    options = {"hostname": "localhost", "loop": loop}
    if args.starttls:
        options["tls_context"] = tls_context(*args.starttls)
        options["require_starttls"] = True
    if args.auth:
        options["authenticator"] = authenticator(args.auth)
        options["auth_required"] = True
        # aiosmtpd only counts STARTTLS as TLS; implicit TLS is TLS too, and without any
        # the test means plain SMTP on purpose.
        options["auth_require_tls"] = bool(args.starttls)
    server_tls = tls_context(*args.tls) if args.tls else None
    server = await loop.create_server(
        lambda: SMTP(handler, **options), "127.0.0.1", args.port, ssl=server_tls
    )
    port = server.sockets[0].getsockname()[1]
    print("READY %d" % port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
