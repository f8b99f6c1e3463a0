"""Crash safety: SIGKILL the real server mid-stream; whatever it acknowledged is there after a restart."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from assistant.security import signed_headers
from tests.servers import START_TIMEOUT, free_port


def start(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, ASSISTANT_DATA_DIR=str(data_dir), ASSISTANT_PORT=str(port))
    env.pop("ASSISTANT_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail("server exited during start")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    process.kill()
    pytest.fail(f"server not ready within {START_TIMEOUT} s")


def test_everything_acknowledged_survives_sigkill(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    server = start(data_dir, port)
    credentials = json.loads((data_dir / "demo-credentials.json").read_text())
    auth = {"Authorization": f"Bearer {credentials['api_key']}"}
    acked_tickets: dict[str, int] = {}  # external id → decision id
    acked_cases: list[int] = []
    stop = threading.Event()

    def stream() -> None:
        with httpx.Client(base_url=base, timeout=10) as client:
            n = 0
            while not stop.is_set():
                n += 1
                body = json.dumps(
                    {"source": "demo", "external_id": f"CRASH-{n}", "event_id": "1", "body": f"My parcel {n} is late"}
                ).encode()
                try:
                    response = client.post(
                        "/v1/webhooks/tickets",
                        content=body,
                        headers=signed_headers(credentials["webhook_secret"], body),
                    )
                    if response.status_code == 201:
                        decision = response.json()
                        acked_tickets[f"CRASH-{n}"] = decision["decision_id"]
                        if n % 3 == 0:
                            solved = client.post(
                                f"/v1/tickets/{decision['ticket_id']}/solve",
                                json={"resolution": "Chased the carrier.", "actions": ["contact-carrier"]},
                                headers=auth,
                            )
                            if solved.status_code == 201:
                                acked_cases.append(solved.json()["id"])
                except httpx.TransportError:
                    return  # the server is gone

    sender = threading.Thread(target=stream)
    sender.start()
    deadline = time.monotonic() + 60
    while len(acked_tickets) < 30 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.send_signal(signal.SIGKILL)  # mid-stream: requests are in flight
    server.wait(10)
    stop.set()
    sender.join(15)
    assert len(acked_tickets) >= 30 and acked_cases

    server = start(data_dir, port)
    try:
        with httpx.Client(base_url=base, timeout=10, headers=auth) as client:
            database = sqlite3.connect(data_dir / "assistant.db")
            rows = dict(
                database.execute(
                    "SELECT t.external_id, d.id FROM tickets t JOIN routing_decisions d ON d.ticket_id = t.id"
                ).fetchall()
            )
            for external_id, decision_id in acked_tickets.items():
                assert rows.get(external_id) == decision_id, external_id
            for case_id in acked_cases:
                assert client.get(f"/v1/cases/{case_id}").status_code == 200
            stored_cases = database.execute("SELECT COUNT(*) FROM resolved_cases").fetchone()[0]
            database.close()
            ready = client.get("/ready").json()
            assert ready["knowledge"]["cases"]["indexed"] == stored_cases  # demo cases + the solved ones
            found = client.post("/v1/suggestions", json={"text": "My parcel 3 is late", "cases": 20}).json()
            assert set(acked_cases) & {case["id"] for case in found["cases"]}
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
