"""Durable callbacks against a real local HTTP receiver that fails, goes down and comes back."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from litestar.testing import TestClient

from assistant.app import create_app
from assistant.security import verify_signature
from assistant.settings import Settings
from knowledge import TextEmbedder
from tests.servers import free_port
from tests.support import post_ticket, ticket_payload

Headers = dict[str, str]


class Receiver:
    """A ticketing system's callback endpoint on 127.0.0.1: fails the first ``failures`` requests."""

    def __init__(self, port: int, *, failures: int = 0) -> None:
        self.port = port
        self.failures = failures
        self.secret = ""
        self.received: list[dict[str, Any]] = []
        self.attempts = 0
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/callbacks"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts += 1
                if receiver.failures > 0:
                    receiver.failures -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                verify_signature(
                    secrets={"us": receiver.secret}, source="us", headers=headers, body=body, tolerance_seconds=300
                )
                receiver.received.append({"delivery_id": headers["x-delivery-id"], **json.loads(body)})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver(free_port(), failures=2).start()
    yield receiver
    receiver.stop()


def fast(settings: Settings, **changes: Any) -> Settings:
    return replace(settings, callback_poll_seconds=0.05, callback_backoff_seconds=0.2, **changes)


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def subscribe(client: TestClient[Any], headers: Headers, receiver: Receiver) -> None:
    response = client.post("/v1/callbacks/subscriptions", json={"url": receiver.url}, headers=headers)
    assert response.status_code == 201, response.text
    receiver.secret = response.json()["secret"]


def test_decisions_reach_a_flaky_receiver_and_survive_a_restart(
    settings: Settings, embedder: TextEmbedder, make_key: Callable[[str], Headers], receiver: Receiver
) -> None:
    with TestClient(create_app(fast(settings), embedder=embedder)) as client:
        integration = make_key("integration")
        subscribe(client, integration, receiver)
        decision = post_ticket(client, ticket_payload(external_id="CB-1")).json()
        # Two 500s, then delivered on the third attempt.
        assert wait_for(lambda: len(receiver.received) == 1)
        delivered = receiver.received[0]
        assert delivered["event"] == "routing.decision" and delivered["data"]["external_id"] == "CB-1"
        assert delivered["data"]["decision"]["decision_id"] == decision["decision_id"]
        assert receiver.attempts == 3
        # The receiver has the body before the worker has read its 200 and marked the delivery.
        assert wait_for(
            lambda: client.get("/v1/callbacks/deliveries", headers=integration).json()[0]["status"] == "delivered"
        )
        outbox = client.get("/v1/callbacks/deliveries", headers=integration).json()
        assert outbox[0]["status"] == "delivered" and outbox[0]["attempts"] == 3

        receiver.stop()  # the ticketing system goes down
        post_ticket(client, ticket_payload(external_id="CB-2"))
        assert wait_for(lambda: client.get("/v1/callbacks/deliveries", headers=integration).json()[0]["attempts"] >= 1)
    # The service restarts while the receiver is still down; the receiver comes back afterwards.
    with TestClient(create_app(fast(settings), embedder=embedder)) as client:
        receiver.start()
        assert wait_for(lambda: len(receiver.received) == 2)
        assert receiver.received[1]["data"]["external_id"] == "CB-2"
        assert {d["status"] for d in client.get("/v1/callbacks/deliveries", headers=make_key("admin")).json()} == {
            "delivered"
        }


def test_a_receiver_that_never_answers_is_dead_lettered_and_can_be_retried(
    settings: Settings, embedder: TextEmbedder, make_key: Callable[[str], Headers]
) -> None:
    broken = Receiver(free_port(), failures=10**6).start()
    try:
        with TestClient(create_app(fast(settings, callback_max_attempts=3), embedder=embedder)) as client:
            admin = make_key("admin")
            subscribe(client, admin, broken)
            post_ticket(client, ticket_payload(external_id="CB-DEAD"))
            dead = "/v1/callbacks/deliveries?status=dead"
            assert wait_for(lambda: len(client.get(dead, headers=admin).json()) == 1)
            delivery = client.get(dead, headers=admin).json()[0]
            assert delivery["attempts"] == 3 and delivery["last_error"] == "HTTP 500"
            assert broken.attempts == 3
            broken.failures = 0
            retried = client.post(f"/v1/callbacks/deliveries/{delivery['id']}/retry", headers=admin)
            assert retried.status_code == 200 and retried.json()["status"] == "pending"
            assert wait_for(lambda: len(broken.received) == 1)
    finally:
        broken.stop()


def test_several_workers_share_the_outbox_without_double_delivery(
    settings: Settings, embedder: TextEmbedder, make_key: Callable[[str], Headers], receiver: Receiver, tmp_path: Any
) -> None:
    receiver.failures = 0
    first = fast(settings)
    second = fast(settings, data_dir=tmp_path / "second")
    shutil.copytree(settings.classifier_dir, second.classifier_dir)
    with (
        TestClient(create_app(first, embedder=embedder)) as one,
        TestClient(create_app(second, embedder=embedder)) as two,
    ):
        subscribe(one, make_key("admin"), receiver)
        for n in range(20):
            post_ticket(one if n % 2 else two, ticket_payload(external_id=f"CB-MANY-{n}"))
        assert wait_for(lambda: len(receiver.received) >= 20)
        time.sleep(0.5)  # a double delivery would show up now
    counts = Counter(item["delivery_id"] for item in receiver.received)
    assert len(counts) == 20 and set(counts.values()) == {1}


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "not a url",
        "http://exa mple.com",
        # Addresses no delivery could ever reach: refused now, not found dead after every retry.
        "http://hooks.example.com:99999/cb",
        "http://hooks.example.com:-1/cb",
        "http://hooks..example.com/cb",
        "http://%zz/cb",
        f"http://{'a' * 64}.example.com/cb",
    ],
)
def test_bad_subscriptions_are_refused(client: TestClient[Any], make_key: Callable[[str], Headers], url: str) -> None:
    response = client.post("/v1/callbacks/subscriptions", json={"url": url}, headers=make_key("admin"))
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("url", ["http://[::1]:8080/cb", "https://bücher.example/cb", "http://my_host.internal/cb"])
def test_addresses_of_every_kind_are_taken(
    client: TestClient[Any], make_key: Callable[[str], Headers], url: str
) -> None:
    response = client.post("/v1/callbacks/subscriptions", json={"url": url}, headers=make_key("admin"))
    assert response.status_code == 201, response.text


def test_a_secret_with_a_control_character_is_refused(
    client: TestClient[Any], make_key: Callable[[str], Headers]
) -> None:
    body = {"url": "https://hooks.example.com/cb", "secret": "s" * 20 + "\x7f"}
    response = client.post("/v1/callbacks/subscriptions", json=body, headers=make_key("admin"))
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"
