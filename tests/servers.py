"""A real `assistant serve` on 127.0.0.1 with the demo defaults, as a new user starts it; stopped afterwards."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

START_TIMEOUT = 240


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def demo_server(data_dir: Path) -> Iterator[str]:
    """Yields the base URL once ``/ready`` answers; SIGTERM (then a kill) at the end."""
    port = free_port()
    env = dict(os.environ, ASSISTANT_DATA_DIR=str(data_dir), ASSISTANT_PORT=str(port))
    env.pop("ASSISTANT_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"server exited early:\n{process.stdout.read() if process.stdout else ''}")
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail(f"server not ready within {START_TIMEOUT}s")
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
