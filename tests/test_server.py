"""The real server as a new user starts it: `assistant serve` on 127.0.0.1 with the demo defaults."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.security import signed_headers

START_TIMEOUT = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("server-data")
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
        yield base, data_dir
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def test_fresh_start_trains_the_demo_and_routes_a_signed_ticket(server: tuple[str, Path]) -> None:
    base, data_dir = server
    credentials = json.loads((data_dir / "demo-credentials.json").read_text())
    assert (data_dir / "assistant.db").is_file()
    assert (data_dir / "classifier" / "CURRENT").is_file()

    body = json.dumps(
        {
            "source": credentials["webhook_source"],
            "external_id": "ZD-1001",
            "event_id": "1",
            "subject": "Charged twice",
            "body": "My card statement shows two charges of 49.99 for order #A10234.",
            "channel": "email",
            "customer_ref": "cust-9",
        }
    ).encode()
    response = httpx.post(
        f"{base}/v1/webhooks/tickets", content=body, headers=signed_headers(credentials["webhook_secret"], body)
    )
    assert response.status_code == 201, response.text
    assert response.json()["department"] == "billing_payments"

    auth = {"Authorization": f"Bearer {credentials['api_key']}"}
    ticket = httpx.get(f"{base}/v1/tickets/{response.json()['ticket_id']}", headers=auth)
    assert ticket.status_code == 200 and ticket.json()["external_id"] == "ZD-1001"
    routed = httpx.post(f"{base}/v1/route", json={"text": "how do I reset my password"}, headers=auth)
    assert routed.json()["department"] == "account_access"
