"""Real processes for the tests and the benchmarks: a free loopback port and a Celery worker
subprocess started, awaited (until it answers a ping) and stopped."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from salesai.celery import app

BASE_DIR = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CeleryWorkerProcess:
    """``celery -A salesai worker`` on its own queue, with the environment it is given."""

    def __init__(
        self,
        *,
        queue: str,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        pool: str = "threads",
        concurrency: int = 4,
        loglevel: str = "INFO",
        extra_args: Sequence[str] = (),
    ):
        self.queue = queue
        self.log_path = log_path
        self.env = dict(env or {})
        self.pool, self.concurrency, self.loglevel, self.extra_args = pool, concurrency, loglevel, extra_args
        self.process: subprocess.Popen | None = None
        self.log = None

    def start(self, timeout: float = 30.0) -> CeleryWorkerProcess:
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "salesai",
                "worker",
                "-Q",
                self.queue,
                f"--pool={self.pool}",
                f"--concurrency={self.concurrency}",
                f"--loglevel={self.loglevel}",
                "--without-gossip",
                "--without-mingle",
                *self.extra_args,
                "-n",
                f"{self.queue}@%h",
            ],  # fmt: skip
            cwd=BASE_DIR,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited: {self.log_path.read_text()[-2000:]}")
            if app.control.ping(destination=[f"{self.queue}@{socket.gethostname()}"], timeout=0.5):
                return self
        raise RuntimeError(f"celery worker did not answer within {timeout}s: {self.log_path.read_text()[-2000:]}")

    def stop(self, timeout: float = 20.0) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log:
            self.log.close()

    def kill(self) -> None:
        """Kill -9, as a crash would (for lost-task tests)."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
