"""``make run``'s scripts/run-dev (issue 14): Ctrl-C stops the web server and the worker within 10 s,
leaving no process behind, and e-mail links use the address the app is served on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from salesai.processes import free_port

ROOT = Path(__file__).resolve().parents[2]


def _children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _tree(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        for child in _children_of(todo.pop()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _describe(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
    except OSError:
        return "?"


@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "celery").exists(), reason="needs the project's .venv")
def test_ctrl_c_stops_the_server_and_the_worker_within_10_seconds(tmp_path):
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SITE_URL")},
        "DEBUG": "true",
        "PORT": str(port),
        "SALESAI_VAR_DIR": str(tmp_path),
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=300)
    process = subprocess.Popen(
        ["scripts/run-dev"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2)
                break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("run-dev never served /login/")
        time.sleep(3)  # the worker and its embedded beat are up by now
        everything = _tree(process.pid)
        assert len(everything) >= 2, "expected the web server and the worker"
        started = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends to the whole group
        output, _ = process.communicate(timeout=15)
        took = time.monotonic() - started
        print(f"run-dev stopped in {took:.1f} s")
        assert took < 10, f"stopping took {took:.1f} s"
        assert f"salesai is running at http://127.0.0.1:{port}/" in output  # SITE_URL follows the port
        assert "salesai stopped." in output
        time.sleep(0.5)
        left = {pid: _describe(pid) for pid in everything if _running(pid)}
        assert not left, f"processes left behind: {left}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
