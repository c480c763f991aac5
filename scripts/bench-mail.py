#!/usr/bin/env python3
"""Outbox throughput and memory with many messages queued, for scripts/bench.

usage: bench-mail.py RAMPART_BIN WORK_DIR MESSAGES

Starts the SMTP sink the tests use (tests/smtp_sink.py, plain SMTP on loopback) and:

1. baseline: Python's smtplib sends min(MESSAGES, 2000) messages to the sink, a new
   connection for each (as the outbox does), and the rate is taken;
2. Rampart, with mail to the same sink, is set up and MESSAGES invitations are made
   through the API while the sink is stopped (SIGSTOP): the outbox worker waits on its
   first connection (smtp_timeout_secs = 300), so every message stays queued. The
   server's RSS is read idle and with everything queued;
3. the sink resumes (SIGCONT) and the time until it has received every message gives
   Rampart's rate.

Prints one line: rampart_rate baseline_rate rss_idle_kb rss_queued_kb rss_peak_kb queued
"""

import http.client
import json
import os
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
import time
from email.message import EmailMessage

BIN, WORK, MESSAGES = sys.argv[1], sys.argv[2], int(sys.argv[3])
SINK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "smtp_sink.py")
PASSWORD = "quartz lantern mosaic 47 harbor"
TLS = ssl._create_unverified_context()
procs = []


def die(message):
    for p in procs:
        p.kill()
    sys.exit(f"bench-mail: {message}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


sink_dir = os.path.join(WORK, "mail-sink")
sink = subprocess.Popen(["python3", SINK, "--port", "0", "--dir", sink_dir],
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
procs.append(sink)
ready = sink.stdout.readline()
if not ready.startswith("READY "):
    die("the SMTP sink did not start (pip package aiosmtpd)")
SMTP_PORT = int(ready.split()[1])


def delivered():
    try:
        return sum(1 for f in os.listdir(sink_dir)
                   if f.endswith(".json") and not f.endswith(".deferred.json"))
    except FileNotFoundError:
        return 0


def wait_delivered(count, limit):
    deadline = time.monotonic() + limit
    while delivered() < count:
        if time.monotonic() > deadline:
            die(f"{delivered()} of {count} messages arrived within {limit} s")
        time.sleep(0.05)


# 1. Baseline.
message = EmailMessage()
message["From"] = "Rampart <rampart@bench.example>"
message["Subject"] = "Invitation to Bench Org on Rampart"
message.set_content("You are invited.\n" * 20)
message.add_alternative("<p>You are invited.</p>\n" * 20, subtype="html")
base_count = min(MESSAGES, 2000)
started = time.perf_counter()
for i in range(base_count):
    del message["To"]
    message["To"] = f"b{i}@bench.example"
    with smtplib.SMTP("127.0.0.1", SMTP_PORT) as smtp:
        smtp.send_message(message)
wait_delivered(base_count, 120)
base_rate = base_count / (time.perf_counter() - started)

# 2. Rampart, with everything queued.
listen = free_port()
config = os.path.join(WORK, "mail.toml")
with open(config, "w") as f:
    f.write(f"""data_dir = "{os.path.join(WORK, 'mail-data')}"
listen = "127.0.0.1:{listen}"
metrics_listen = "off"
log_level = "warn"
mail_transport = "smtp"
mail_from = "Rampart <rampart@bench.example>"
smtp_host = "127.0.0.1"
smtp_port = {SMTP_PORT}
smtp_security = "none"
smtp_allow_plain = true
smtp_timeout_secs = 300
rate_limit_auth_per_minute = 100000
rate_limit_api_per_minute = 100000
""")
server = subprocess.Popen([BIN, "--config", config, "serve"], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True)
procs.append(server)
setup_token = None
for line in server.stdout:
    if "/setup/" in line:
        setup_token = line.strip().rsplit("/", 1)[1]
    if "listening on" in line:
        break
if setup_token is None:
    die("serve printed no setup link")
threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()
ORIGIN = f"https://127.0.0.1:{listen}"


def connect():
    return http.client.HTTPSConnection("127.0.0.1", listen, context=TLS)


def call(conn, method, path, body=None, headers=None):
    head = {"content-type": "application/json", "origin": ORIGIN, **(headers or {})}
    conn.request(method, path, None if body is None else json.dumps(body), head)
    response = conn.getresponse()
    return response.status, response.read(), response


conn = connect()
status, body, _ = call(conn, "POST", "/api/v1/setup", {
    "token": setup_token, "email": "bench@example.com", "display_name": "Bench",
    "password": PASSWORD, "organization": "Bench Org"})
if status != 201:
    die(f"setup failed: {status} {body[:200]}")
status, body, response = call(conn, "POST", "/api/v1/auth/login",
                              {"email": "bench@example.com", "password": PASSWORD})
if status != 200:
    die(f"sign-in failed: {status} {body[:200]}")
cookie = response.getheader("set-cookie").split(";", 1)[0]
auth = {"cookie": cookie, "x-csrf-token": json.loads(body)["csrf_token"]}
status, body, _ = call(conn, "GET", "/api/v1/me", headers=auth)
org = json.loads(body)["organizations"][0]["id"]
time.sleep(1)
rss_idle = rss_kb(server.pid)

os.kill(sink.pid, signal.SIGSTOP)
next_index = iter(range(MESSAGES))
lock = threading.Lock()
errors = []


def invite():
    own = connect()
    while True:
        with lock:
            i = next(next_index, None)
        if i is None:
            return
        status, body, _ = call(own, "POST", f"/api/v1/orgs/{org}/invitations",
                               {"email": f"p{i}@bench.example", "role": "member"}, auth)
        if status != 201:
            errors.append(f"{status} {body[:200]}")
            return


workers = [threading.Thread(target=invite) for _ in range(4)]
for w in workers:
    w.start()
for w in workers:
    w.join()
if errors:
    die(f"invitation failed: {errors[0]}")
time.sleep(1)
rss_queued = rss_kb(server.pid)
out = subprocess.run([BIN, "--config", config, "mail", "outbox"], capture_output=True, text=True)
queued = sum(1 for m in json.loads(out.stdout) if m["state"] == "pending")

# 3. Drain.
before = delivered()
started = time.perf_counter()
os.kill(sink.pid, signal.SIGCONT)
peak = rss_queued
deadline = time.monotonic() + 3600
while delivered() - before < MESSAGES:
    if time.monotonic() > deadline:
        die(f"{delivered() - before} of {MESSAGES} delivered within an hour")
    peak = max(peak, rss_kb(server.pid))
    time.sleep(0.2)
rate = MESSAGES / (time.perf_counter() - started)
server.send_signal(signal.SIGTERM)
server.wait(30)
sink.kill()
print(f"{rate:.1f} {base_rate:.1f} {rss_idle} {rss_queued} {peak} {queued}")
