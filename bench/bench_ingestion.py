"""Ingestion throughput: signed single events (``POST /api/v1/signals``), single Segment calls as
analytics.js sends them (``POST /v1/track`` and ``/v1/page``, one request per event) and Segment
batches of 100 (``POST /v1/batch``), each beside a bare Django view and a minimal DRF insert measured
in the same run, on gunicorn with 2 workers against the configured database (PostgreSQL when
``DATABASE_URL`` is set; the bench uses its own database beside it, so nothing real is touched).

Load comes from wrk (Debian's ``wrk``, a Lua script replaying pre-signed requests) when installed,
else from a pool of Python threads on keep-alive ``http.client`` connections. Each round measures
ceiling and real endpoint back to back (in alternating order); the figures are medians of the
rounds, and the notes give each round's own ratio and their median, and the 99th percentile of the
request latency (single requests).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis
from standardwebhooks.webhooks import Webhook

from bench.common import BenchContext, Figure, percentile
from salesai.processes import free_port

BASE_DIR = Path(__file__).resolve().parent.parent
BATCH_SIZE = 100
CONNECTIONS = 8


@dataclass
class Request:
    path: str
    body: bytes
    headers: dict[str, str]


@dataclass
class Measure:
    requests_per_second: float
    errors: int
    sent: int | None = None  # requests answered
    server_cpu_us: float | None = None  # server-side CPU per request (see ServerCpu)
    p99_ms: float | None = None  # 99th percentile of the request latency


def _bench_database_url(database_url: str, workdir: Path) -> str:
    """A fresh database beside the configured one (PostgreSQL), or a temporary SQLite file."""
    if not database_url.startswith(("postgres://", "postgresql://")):
        return f"sqlite:///{workdir / 'bench.sqlite3'}"
    parts = urlsplit(database_url)
    name = f"{parts.path.lstrip('/') or 'salesai'}_bench_ingestion"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def _manage(env: dict, *args: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, check=True, capture_output=True, text=True
    ).stdout


def _create_source(env: dict, name: str, kind: str) -> dict:
    return json.loads(_manage(env, "create_source", name, "--kind", kind, "--json"))


def _wait_until_serving(port: int, process: subprocess.Popen, timeout: float = 90.0) -> None:
    """Wait until both workers answer (a bound port only means the master is up)."""
    deadline = time.monotonic() + timeout
    answered = 0
    while time.monotonic() < deadline and answered < 4:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited during start-up")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", "/bench/bare", body=b"{}", headers={"Content-Type": "application/json"})
            answered += conn.getresponse().status == 200
            conn.close()
        except OSError:
            time.sleep(0.2)
    if answered < 4:
        raise RuntimeError("gunicorn did not start serving")


# --- request sets ---------------------------------------------------------------------------------


def _signed_events(source: dict, count: int) -> list[Request]:
    webhook = Webhook(source["signing_secret"])
    now = datetime.now(tz=UTC)
    requests = []
    for n in range(count):
        body = json.dumps(
            {
                "kind": "product_usage",
                "name": "Report Created",
                "occurred_at": now.isoformat(),
                "account_domain": f"customer{n % 50}-bench.com",
                "properties": {"report": "pipeline", "rows": n},
            }
        )
        webhook_id = f"msg_{uuid.uuid4().hex}"
        requests.append(
            Request(
                "/api/v1/signals",
                body.encode(),
                {
                    "Content-Type": "application/json",
                    "webhook-id": webhook_id,
                    "webhook-timestamp": str(int(now.timestamp())),
                    "webhook-signature": webhook.sign(webhook_id, now, body),
                    "X-Source-Key": source["write_key"],
                },
            )
        )
    return requests


def _basic_auth(source: dict) -> str:
    return "Basic " + base64.b64encode(f"{source['write_key']}:".encode()).decode()


def _browser_context(user: str, *, single: bool) -> dict:
    """What analytics.js puts in ``context``: its name and the browser's user agent (checked for bots),
    one browser version per user; a single call (not a batch) also names the page and the locale."""
    context = {
        "library": {"name": "analytics.js", "version": "4.1.0"},
        "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/124.0.{user.split('-')[1]}.0 Safari/537.36",
    }
    if single:
        context["page"] = {"path": "/pricing", "url": "https://salesai.example/pricing", "title": "Pricing"}
        context["locale"] = "en-US"
    return context


def _page_call(user: str, sent_at: str, *, single: bool = False) -> dict:
    return {
        "type": "page",
        "anonymousId": f"anon-{user}",
        "name": "Pricing",
        "properties": {"url": "https://salesai.example/pricing", "path": "/pricing", "title": "Pricing"},
        "messageId": uuid.uuid4().hex,
        "timestamp": sent_at,
        "context": _browser_context(user, single=single),
    }


def _track_call(user: str, sent_at: str, *, single: bool = False) -> dict:
    """A server's track call in a batch (analytics-python); a browser's when ``single``."""
    return {
        "type": "track",
        "userId": user,
        "event": "Feature Used",
        "properties": {"feature": "export"},
        "messageId": uuid.uuid4().hex,
        "timestamp": sent_at,
        "context": _browser_context(user, single=True)
        if single
        else {"library": {"name": "analytics-python", "version": "2.4.0"}},
    }


def _segment_batches(source: dict, count: int) -> list[Request]:
    auth = _basic_auth(source)
    sent_at = datetime.now(tz=UTC).isoformat()
    requests = []
    for n in range(count):
        users = [f"user-{(n * 5 + k) % 400}" for k in range(5)]
        events = [
            _page_call(users[i % 5], sent_at) if i % 3 == 0 else _track_call(users[i % 5], sent_at)
            for i in range(BATCH_SIZE)
        ]
        body = json.dumps({"batch": events, "sentAt": sent_at}).encode()
        requests.append(Request("/v1/batch", body, {"Content-Type": "application/json", "Authorization": auth}))
    return requests


def _segment_singles(source: dict, count: int) -> list[Request]:
    """One call per request, as analytics.js sends them from a browser: page views and track calls in
    turn, each with its ``sentAt``. Track calls authenticate with HTTP Basic; page calls carry
    ``writeKey`` in the body, as analytics.js itself does."""
    auth = _basic_auth(source)
    sent_at = datetime.now(tz=UTC).isoformat()
    requests = []
    for n in range(count):
        user = f"user-{n % 400}"
        if n % 2:
            call = {**_page_call(user, sent_at, single=True), "sentAt": sent_at, "writeKey": source["write_key"]}
            requests.append(Request("/v1/page", json.dumps(call).encode(), {"Content-Type": "application/json"}))
        else:
            call = {**_track_call(user, sent_at, single=True), "anonymousId": f"anon-{user}", "sentAt": sent_at}
            headers = {"Content-Type": "application/json", "Authorization": auth}
            requests.append(Request("/v1/track", json.dumps(call).encode(), headers))
    return requests


# --- load generators ------------------------------------------------------------------------------

_WRK_SCRIPT = r"""
local requests = {}
local index = 0
local counter = 1
local function split(s)
  local out = {}
  local start = 1
  while true do
    local i = string.find(s, "\t", start, true)
    if not i then table.insert(out, string.sub(s, start)); break end
    table.insert(out, string.sub(s, start, i - 1))
    start = i + 1
  end
  return out
end
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  local nthreads = tonumber(args[2])
  local n = 0
  for line in io.lines(args[1]) do
    n = n + 1
    if (n % nthreads) + 1 == id then
      local fields = split(line)
      local headers = {}
      for i = 3, #fields - 1, 2 do headers[fields[i]] = fields[i + 1] end
      table.insert(requests, wrk.format(fields[1], fields[2], headers, fields[#fields]))
    end
  end
end
function request()
  index = index + 1
  if index > #requests then index = 1 end
  return requests[index]
end
"""


def _write_requests_file(path: Path, requests: list[Request]) -> None:
    with path.open("w") as handle:
        for r in requests:
            headers = "\t".join(f"{k}\t{v}" for k, v in r.headers.items())
            handle.write(f"POST\t{r.path}\t{headers}\t{r.body.decode()}\n")


def _run_wrk(port: int, requests_file: Path, script: Path, duration: float, threads: int = 2) -> Measure:
    completed = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{CONNECTIONS}",
            f"-d{max(1, round(duration))}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
            "--",
            str(requests_file),
            str(threads),
        ],
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed: {completed.stdout[-500:]} {completed.stderr[-500:]}")
    output = completed.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    failed = int(bad.group(1)) if bad else 0
    if errors:
        failed += sum(int(g) for g in errors.groups())
    sent = re.search(r"(\d+) requests in", output)
    return Measure(rate, failed, int(sent.group(1)) if sent else None, p99_ms=_wrk_p99_ms(output))


_WRK_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _wrk_p99_ms(output: str) -> float | None:
    """The 99th percentile of ``wrk --latency``'s distribution, in milliseconds."""
    found = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
    return float(found.group(1)) * _WRK_UNITS_MS[found.group(2)] if found else None


def _run_python(port: int, requests: list[Request], duration: float) -> Measure:
    lock = threading.Lock()
    position = iter(range(10**9))
    done = [0]
    failed = [0]
    latencies: list[float] = []
    deadline = time.monotonic() + duration

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < deadline:
            with lock:
                r = requests[next(position) % len(requests)]
            sent = time.monotonic()
            conn.request("POST", r.path, body=r.body, headers=r.headers)
            response = conn.getresponse()
            response.read()
            with lock:
                latencies.append(time.monotonic() - sent)
                done[0] += 1
                failed[0] += response.status >= 300
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    p99 = percentile(latencies, 99) * 1000 if latencies else None
    return Measure(done[0] / (time.monotonic() - started), failed[0], done[0], p99_ms=p99)


class ServerCpu:
    """CPU time spent serving, read from Linux's /proc: gunicorn's workers, the PostgreSQL backends
    of the bench database and redis-server. Requests/s swing when other work shares the machine
    (its load drifts within seconds); CPU per request hardly moves, so the ratio of CPU per request
    is the steadier comparison on a busy box. The load generator is not counted (it is the client);
    neither are PostgreSQL's shared background processes (WAL writer, checkpointer)."""

    def __init__(self, gunicorn_pid: int, database: str, redis_url: str):
        self.available = Path(f"/proc/{gunicorn_pid}/task").is_dir()
        self.gunicorn_pid = gunicorn_pid
        self.database = database.encode()
        port = (urlsplit(redis_url).port or 6379) if redis_url else None
        self.redis = f"redis-server 127.0.0.1:{port}".encode() if port else None
        self.tick = os.sysconf("SC_CLK_TCK") if self.available else 100

    def _pids(self) -> list[int]:
        pids: list[int] = []
        for task in Path(f"/proc/{self.gunicorn_pid}/task").iterdir():
            pids += [int(p) for p in (task / "children").read_text().split()]
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            backend = command.startswith(b"postgres:") and self.database in command.split()
            if backend or (self.redis and command.startswith(self.redis)):
                pids.append(int(entry.name))
        return pids

    def sample(self) -> dict[int, float]:
        """CPU seconds (user + system) so far of every serving process."""
        if not self.available:
            return {}
        seconds: dict[int, float] = {}
        for pid in self._pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # exited meanwhile
                continue
            seconds[pid] = (int(fields[11]) + int(fields[12])) / self.tick
        return seconds

    @staticmethod
    def spent(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(value - before.get(pid, 0.0) for pid, value in after.items())


class Load:
    """Runs one scenario (a list of requests replayed in order) with wrk or Python threads."""

    def __init__(self, port: int, workdir: Path, cpu: ServerCpu):
        self.port = port
        self.workdir = workdir
        self.cpu = cpu
        self.wrk = shutil.which("wrk")
        self.script = workdir / "replay.lua"
        self.script.write_text(_WRK_SCRIPT)
        self.files: dict[str, Path] = {}
        self.sets: dict[str, list[Request]] = {}
        self.offsets: dict[str, int] = {}

    @property
    def generator(self) -> str:
        return "wrk" if self.wrk else "python http.client threads"

    def add(self, name: str, requests: list[Request]) -> None:
        self.sets[name] = requests
        self.offsets[name] = 0

    def run(self, name: str, duration: float, estimated_rate: float = 2000) -> Measure:
        """Replay the next unused requests of ``name`` (signed ids and messageIds are single-use)."""
        requests = self.sets[name]
        needed = int(duration * estimated_rate * 1.5) + 200
        start = self.offsets[name] % len(requests)
        size = min(needed, max(len(requests), 2))  # every wrk thread needs at least one request
        chunk = [requests[(start + i) % len(requests)] for i in range(size)]
        self.offsets[name] = start + size
        if self.wrk:
            path = self.workdir / f"{name}.tsv"
            _write_requests_file(path, chunk)
        before = self.cpu.sample()
        if not self.wrk:
            measure = _run_python(self.port, chunk, duration)
            self.offsets[name] = start + (measure.sent or 0)  # the rest are still unused
        else:
            measure = _run_wrk(self.port, path, self.script, duration)
        if before and measure.sent:
            measure.server_cpu_us = ServerCpu.spent(before, self.cpu.sample()) / measure.sent * 1e6
        cpu = f", {measure.server_cpu_us:,.0f} µs server CPU per request" if measure.server_cpu_us else ""
        p99 = f", p99 {measure.p99_ms:,.1f} ms" if measure.p99_ms is not None else ""
        _log(f"{name}: {measure.requests_per_second:,.1f} requests/s, {measure.errors} errors{cpu}{p99}")
        return measure


# --- the benchmark --------------------------------------------------------------------------------


def run(ctx: BenchContext) -> list[Figure]:
    # Many short rounds, each ceiling and real endpoint back to back in alternating order: on a
    # shared machine the load of other work drifts within seconds, and a round's ratio is only fair
    # when both halves saw the same drift.
    duration = 2.0
    rounds = 2 if ctx.quick else 6
    workdir = Path(tempfile.mkdtemp(prefix="bench-ingestion-"))
    queue = f"bench-ingestion-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": _bench_database_url(ctx.database_url, workdir),
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-" + uuid.uuid4().hex,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SALESAI_VAR_DIR": str(workdir / "var"),
        "SALESAI_INGEST_RATE_PER_MINUTE": "100000000",  # measure the limiter's cost, not its refusals
        "CELERY_QUEUE": queue,  # analysis tasks go to a queue of our own, consumed by nobody
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "salesai.settings",
    }
    if ctx.redis_url:
        env["REDIS_URL"] = ctx.redis_url
    started = time.monotonic()
    _manage(env, "migrate", "--noinput")
    _log(f"bench database migrated in {time.monotonic() - started:.1f}s")
    signed_source = _create_source(env, "bench-signed", "generic")
    segment_source = _create_source(env, "bench-segment", "segment")
    _create_source(env, "bench-ceiling", "generic")

    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "bench.wsgi_ingestion:application",
            "--config",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--max-requests",
            "0",
            "--access-logfile",
            "/dev/null",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "gunicorn.log").open("w"),
    )
    try:
        _wait_until_serving(port, server)
        database = urlsplit(env["DATABASE_URL"]).path.lstrip("/")
        load = Load(port, workdir, ServerCpu(server.pid, database, ctx.redis_url))
        single_body = _signed_events(signed_source, 1)[0].body
        batches = _segment_batches(segment_source, (rounds + 1) * int(duration * 150) + 300)
        plain = {"Content-Type": "application/json"}
        load.add("bare-single", [Request("/bench/bare", single_body, plain)])
        load.add("insert-single", [Request("/bench/insert", single_body, plain)])
        # signed ids and messageIds are single-use: enough for every round at the most wrk could reach
        single_count = (rounds + 1) * int(duration * 2000 * 1.5 + 200)
        load.add("signed-single", _signed_events(signed_source, single_count))
        segment_singles = _segment_singles(segment_source, single_count)
        load.add("insert-segment-single", [Request("/bench/insert", segment_singles[0].body, plain)])
        load.add("segment-single", segment_singles)
        load.add("bare-batch", [Request("/bench/bare", batches[0].body, plain)])
        load.add("bulk-insert-batch", [Request("/bench/bulk-insert", batches[0].body, plain)])
        load.add("segment-batch", batches)

        for name in load.sets:  # warm-up: lazy imports, connections, the accounts of the domains
            load.run(name, 1.0, estimated_rate=100 if "batch" in name else 1000)
        _log(f"server up, requests built; load from {load.generator}")
        results: dict[str, list[Measure]] = {name: [] for name in load.sets}
        for round_ in range(rounds):
            order = 1 if round_ % 2 == 0 else -1
            for name in ("bare-single", "insert-single", "signed-single")[::order]:
                results[name].append(load.run(name, duration))
            for name in ("insert-segment-single", "segment-single")[::order]:
                results[name].append(load.run(name, duration))
            for name in ("bare-batch", "bulk-insert-batch", "segment-batch")[::order]:
                results[name].append(load.run(name, duration, estimated_rate=100))
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        _cleanup_queue(ctx.redis_url, queue)
        shutil.rmtree(workdir, ignore_errors=True)

    def rate(name: str, per_request: int = 1) -> float:
        return statistics.median(m.requests_per_second for m in results[name]) * per_request

    def round_ratios(name: str, ceiling: str) -> list[float]:
        """Real ÷ ceiling per round (measured back to back), robust to load drifting between rounds."""
        return [
            round(m.requests_per_second / c.requests_per_second, 3) if c.requests_per_second else 0.0
            for m, c in zip(results[name], results[ceiling], strict=True)
        ]

    def errors(name: str) -> int:
        return sum(m.errors for m in results[name])

    def cpu_note(name: str, ceiling: str, per_request: int = 1) -> tuple[str, dict]:
        """Server CPU per event of real and ceiling (medians of the rounds) and ceiling ÷ real, the
        throughput ratio a CPU-bound server would reach."""
        real_cpu = [m.server_cpu_us for m in results[name] if m.server_cpu_us]
        ceiling_cpu = [m.server_cpu_us for m in results[ceiling] if m.server_cpu_us]
        if not real_cpu or not ceiling_cpu:
            return "", {}
        real_us = statistics.median(real_cpu) / per_request
        ceiling_us = statistics.median(ceiling_cpu) / per_request
        return (
            f"; server CPU per event {real_us:,.0f} µs, ceiling {ceiling_us:,.0f} µs "
            f"(ratio {ceiling_us / real_us:.2f})",
            {"server_cpu_us": real_us, "ceiling_server_cpu_us": ceiling_us, "cpu_ratio": ceiling_us / real_us},
        )

    def p99_note(name: str, ceiling: str) -> tuple[str, dict]:
        """The 99th percentile latency of real and ceiling (medians of the rounds)."""
        real = [m.p99_ms for m in results[name] if m.p99_ms is not None]
        roof = [m.p99_ms for m in results[ceiling] if m.p99_ms is not None]
        if not real or not roof:
            return "", {}
        real_ms, roof_ms = statistics.median(real), statistics.median(roof)
        return f"; p99 {real_ms:,.1f} ms, ceiling {roof_ms:,.1f} ms", {"p99_ms": real_ms, "ceiling_p99_ms": roof_ms}

    def single_notes(name: str, ceiling: str) -> tuple[str, dict]:
        ratios = round_ratios(name, ceiling)
        cpu, cpu_extra = cpu_note(name, ceiling)
        p99, p99_extra = p99_note(name, ceiling)
        notes = (
            f"gunicorn 2 sync workers, {CONNECTIONS} connections, {load.generator}, {rounds} rounds × "
            f"{duration:.0f}s, median; errors: real {errors(name)}, ceiling {errors(ceiling)}; "
            f"per-round ratios {ratios} (median {statistics.median(ratios):.3f}){cpu}{p99}"
        )
        extra = {"round_ratios": ratios, "median_round_ratio": statistics.median(ratios), **cpu_extra, **p99_extra}
        return notes, extra

    notes, single_extra = single_notes("signed-single", "insert-single")
    segment_notes, segment_extra = single_notes("segment-single", "insert-segment-single")
    segment_notes = "track (HTTP Basic) and page (writeKey in the body) calls in turn, from a browser; " + segment_notes
    batch_ratios = round_ratios("segment-batch", "bulk-insert-batch")
    batch_cpu, batch_cpu_extra = cpu_note("segment-batch", "bulk-insert-batch", BATCH_SIZE)
    batch_notes = (
        f"{BATCH_SIZE} events per batch (⅓ page, ⅔ track, 5 users); same load; "
        f"errors: real {errors('segment-batch')}, ceiling {errors('bulk-insert-batch')}; "
        f"per-round ratios {batch_ratios} (median {statistics.median(batch_ratios):.3f}){batch_cpu}"
    )
    return [
        Figure(
            bench="ingestion",
            metric="signed single events (POST /api/v1/signals)",
            value=rate("signed-single"),
            unit="events/s",
            ceiling=rate("insert-single"),
            ceiling_label="minimal DRF view: parse + one INSERT",
            target="≥ 0.70",
            notes=notes,
            extra={"bare_django_view_rps": rate("bare-single"), **single_extra},
        ),
        Figure(
            bench="ingestion",
            metric="signed single events vs bare Django view",
            value=rate("signed-single"),
            unit="events/s",
            ceiling=rate("bare-single"),
            ceiling_label="bare Django view, no database",
        ),
        Figure(
            bench="ingestion",
            metric="Segment single events (POST /v1/track, /v1/page)",
            value=rate("segment-single"),
            unit="events/s",
            ceiling=rate("insert-segment-single"),
            ceiling_label="minimal DRF view: parse + one INSERT",
            target="≥ 0.70",
            notes=segment_notes,
            extra=segment_extra,
        ),
        Figure(
            bench="ingestion",
            metric="Segment batches of 100 (POST /v1/batch)",
            value=rate("segment-batch", BATCH_SIZE),
            unit="events/s",
            ceiling=rate("bulk-insert-batch", BATCH_SIZE),
            ceiling_label="minimal DRF view: parse + one multi-row INSERT",
            target="≥ 0.50",
            notes=batch_notes,
            extra={
                "round_ratios": batch_ratios,
                "median_round_ratio": statistics.median(batch_ratios),
                **batch_cpu_extra,
            },
        ),
        Figure(
            bench="ingestion",
            metric="Segment batches vs bare Django view",
            value=rate("segment-batch", BATCH_SIZE),
            unit="events/s",
            ceiling=rate("bare-batch", BATCH_SIZE),
            ceiling_label="bare Django view, body not parsed",
        ),
    ]


def _log(message: str) -> None:
    print(f"   ingestion: {message}", file=sys.stderr, flush=True)


def _cleanup_queue(redis_url: str, queue: str) -> None:
    if not redis_url:
        return
    with contextlib.suppress(Exception):  # the bench's own leftovers only; never fail the report for them
        redis.Redis.from_url(redis_url).delete(queue)
