"""Test fixtures shared by every app: real services, a real Celery worker, eager Celery for unit tests.

Integration tests need PostgreSQL + Redis (set ``DATABASE_URL`` and ``REDIS_URL``; CI's second pass
does). Locally they skip with the reason; under ``CI=true`` a configured but unreachable service fails.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings

from salesai.celery import app as celery_app
from salesai.processes import CeleryWorkerProcess, free_port  # noqa: F401 (free_port: for tests)

ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _missing(reason: str) -> None:
    """A missing service: a failure under CI, a skip with its reason elsewhere."""
    if ON_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def uses_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


@pytest.fixture
def require_postgres():
    if not uses_postgres():
        pytest.skip("needs DATABASE_URL=postgres://… (CI's second pass runs it)")
    db = settings.DATABASES["default"]
    if not _port_open(db.get("HOST") or "127.0.0.1", int(db.get("PORT") or 5432)):
        _missing("PostgreSQL is configured but not answering")


@pytest.fixture
def require_redis():
    url = settings.REDIS_URL
    if not url:
        pytest.skip("needs REDIS_URL=redis://… (CI's second pass runs it)")
    parts = urlsplit(url)
    if not _port_open(parts.hostname or "127.0.0.1", parts.port or 6379):
        _missing("Redis is configured but not answering")


@pytest.fixture(autouse=True)
def _eager_celery(request):
    """Unit tests run tasks in-process; integration tests (a real worker) opt out."""
    if request.node.get_closest_marker("integration"):
        yield
        return
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous


def database_url_for_test_db() -> str:
    """DATABASE_URL pointing at the test database pytest-django created (for worker subprocesses)."""
    from django.db import connection

    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


class CeleryWorker(CeleryWorkerProcess):
    """A real Celery worker process on its own queue, writing to the pytest-django test database."""

    def __init__(self, queue: str, log_path: Path, extra_env: dict[str, str] | None = None):
        super().__init__(queue=queue, log_path=log_path)
        self.extra_env = extra_env or {}

    def start(self, timeout: float = 30.0) -> CeleryWorker:
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url_for_test_db(),
            "CELERY_QUEUE": self.queue,
            "DEBUG": "true",
            "SALESAI_SEND_IN_WORKING_HOURS": "false",  # tests run at any hour (see _any_hour)
            **self.extra_env,
        }
        return super().start(timeout)


@pytest.fixture
def celery_queue(require_postgres, require_redis):
    """A queue name of this test's own, so no stale message from another run reaches its worker."""
    queue = f"test-{uuid.uuid4().hex[:10]}"
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    yield queue
    celery_app.conf.task_default_queue = previous


@pytest.fixture
def celery_worker_process(celery_queue, transactional_db, tmp_path):
    """A real Celery worker process on Redis, writing to the PostgreSQL test database."""
    worker = CeleryWorker(celery_queue, tmp_path / "worker.log").start()
    yield worker
    worker.stop()


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.05):
    """Poll until ``predicate()`` is truthy (for work done by another process); return its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def in_threads(target, count: int, timeout: float = 60.0) -> list[BaseException]:
    """Run ``target()`` in ``count`` threads at once, each on its own database connection (closed when
    it ends); wait for all and return what they raised."""
    from django.db import connection

    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 (returned to the test)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    return errors


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class LoopbackMailbox:
    """An aiosmtpd handler keeping every envelope (raw) and message (parsed). Setting ``hold`` makes
    the next DATA wait without answering, as a slow server would, until ``release`` is set."""

    def __init__(self) -> None:
        import threading

        self.envelopes: list = []
        self.messages: list = []
        self.hold = threading.Event()
        self.release = threading.Event()
        self.url = ""

    async def handle_DATA(self, server, session, envelope):
        import asyncio
        from email import message_from_bytes

        self.envelopes.append(envelope)
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content))
        if self.hold.is_set():
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 60)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_mailbox():
    """A real SMTP server on 127.0.0.1 (aiosmtpd); ``.url`` is its EMAIL_URL for other processes."""
    from aiosmtpd.controller import Controller

    mailbox = LoopbackMailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    mailbox.url = f"smtp://127.0.0.1:{controller.port}"
    yield mailbox
    mailbox.release.set()
    controller.stop()


@pytest.fixture
def smtp_server(smtp_mailbox, settings):
    """The loopback SMTP server, with this process's Django e-mail backend pointed at it."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", int(smtp_mailbox.url.rsplit(":", 1)[1])
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    return smtp_mailbox


# --- the browser (one Chromium for every browser test) ------------------------------------------------

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parent / "test-artifacts"  # screenshots (gitignored)
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def chromium():
    """Debian's headless Chromium (never ``playwright install``): a failure under CI, a skip elsewhere."""
    import shutil

    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        _missing(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # playwright's sync API runs an event loop
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def axe_violations(page, *, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """axe-core (shipped inside axe-playwright-python's wheel) on the page as it is: the serious and
    critical violations, one line each ("rule: help (n nodes: selector …)")."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    found = []
    for violation in results.response.get("violations", []):
        if violation.get("impact") in impacts:
            targets = [" ".join(map(str, node.get("target", []))) for node in violation.get("nodes", [])][:3]
            found.append(f"{violation['id']}: {violation['help']} ({len(violation['nodes'])} nodes: {targets})")
    return found


def snapshot(page, name: str) -> Path:
    """Save a full-page screenshot as ``test-artifacts/<name>.png`` and check the page with axe-core and
    for sideways scrolling (no page may scroll horizontally at 390 px)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.viewport_size["width"] if page.viewport_size else width
    assert width <= viewport, f"{name}: the page scrolls sideways ({width}px in a {viewport}px window)"
    problems = axe_violations(page)
    assert not problems, f"{name}: accessibility violations:\n" + "\n".join(problems)
    return path


@pytest.fixture(autouse=True)
def _any_hour(request, settings):
    """Tests send at whatever hour they run; those about working hours say so (``@pytest.mark.working_hours``)."""
    if request.node.get_closest_marker("working_hours") is None:
        settings.SALESAI = {**settings.SALESAI, "SEND_IN_WORKING_HOURS": False}
