"""Live suggestions over a WebSocket: the agent's client streams the conversation as it grows.

Each message updates the conversation; suggestions are computed once the client has been quiet for
a moment (debounced), and an answer computed for text that has since changed is dropped, so the
agent only ever sees suggestions for the newest text.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import anyio
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from assistant.assist.models import MAX_SHOWN, SuggestionRequest, Suggestions
from assistant.assist.service import AssistEngine
from assistant.auth.guards import LIVE_PROTOCOL, offered_protocols
from assistant.db import MAX_ROW_ID, session_scope
from assistant.errors import DomainError
from assistant.tickets.models import Ticket, reject_unstorable

log = logging.getLogger("assistant")

DEBOUNCE_SECONDS = 0.25
# A transcript streaming without pause still gets suggestions this often.
MAX_WAIT_SECONDS = 1.5
MAX_MESSAGE_CHARS = 64 * 1024
# How many of each a message may ask for; the defaults are the HTTP request's.
SHOWN_KINDS = ("cases", "faq", "actions")


class LiveAssist:
    def __init__(
        self, socket: WebSocket[Any, Any, Any], *, assist: AssistEngine, engine: Engine, max_text_chars: int
    ) -> None:
        self.socket = socket
        self.assist = assist
        self.engine = engine
        self.max_text_chars = max_text_chars
        self.text = ""
        self.ticket_id: int | None = None
        self.limits = {name: SuggestionRequest.model_fields[name].default for name in SHOWN_KINDS}
        self.version = 0
        self.changed = asyncio.Event()

    async def run(self) -> None:
        # A browser that offered protocols drops a connection whose answer names none of them.
        chosen = LIVE_PROTOCOL if LIVE_PROTOCOL in offered_protocols(self.socket) else None
        await self.socket.accept(subprotocols=chosen)
        worker = asyncio.create_task(self._suggest_when_quiet())
        try:
            while True:
                raw = await self.socket.receive_text()
                await self._handle(raw)
        except WebSocketDisconnect:
            pass
        finally:
            worker.cancel()
            with anyio.CancelScope(shield=True):
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                    await worker

    async def _handle(self, raw: str) -> None:
        if len(raw) > MAX_MESSAGE_CHARS:
            await self._error("message_too_large", f"A message may hold at most {MAX_MESSAGE_CHARS} characters.")
            return
        try:
            message = json.loads(raw)
        except ValueError:
            await self._error("malformed_json", "Each message must be a JSON object.")
            return
        if not isinstance(message, dict):
            await self._error("malformed_json", "Each message must be a JSON object.")
            return
        kind = message.get("type", "text")
        text = message.get("text", "" if kind == "reset" else None)
        if kind not in ("text", "append", "reset") or not isinstance(text, str):
            await self._error(
                "invalid_message",
                'Send {"type": "text"|"append"|"reset", "text": "..."}: "text" replaces the conversation, '
                '"append" adds to it.',
            )
            return
        try:
            reject_unstorable(text)
        except ValueError as exc:
            await self._error("invalid_message", f'"text" is not plain text: {exc}.')
            return
        limits = dict(self.limits)
        for name in SHOWN_KINDS:
            value = message.get(name, limits[name])
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SHOWN:
                await self._error("invalid_message", f'"{name}" must be a whole number from 0 to {MAX_SHOWN}.')
                return
            limits[name] = value
        # A new conversation is about no ticket until it says so.
        ticket_id = message.get("ticket_id", None if kind == "reset" else self.ticket_id)
        if ticket_id is not None and (
            not isinstance(ticket_id, int) or isinstance(ticket_id, bool) or not 0 < ticket_id <= MAX_ROW_ID
        ):
            await self._error("invalid_message", '"ticket_id" must be the id of a ticket, a positive whole number.')
            return
        if ticket_id is not None and ticket_id != self.ticket_id:
            try:
                found = await self._ticket_exists(ticket_id)
            except SQLAlchemyError:
                log.exception("live suggestions could not look up ticket %s", ticket_id)
                await self._error("database_unavailable", "The ticket could not be looked up; send it again.")
                return
            if not found:
                await self._error("ticket_not_found", f"No ticket with id {ticket_id}.")
                return
        new_text = {"text": text, "append": self.text + ("\n" if self.text and text else "") + text, "reset": ""}[kind]
        if len(new_text) > self.max_text_chars:
            await self._error(
                "text_too_long", f"The conversation may hold at most {self.max_text_chars} characters; not added."
            )
            return
        # Only a message that is valid as a whole changes anything.
        self.limits, self.ticket_id, self.text = limits, ticket_id, new_text
        self.version += 1
        self.changed.set()

    async def _ticket_exists(self, ticket_id: int) -> bool:
        def exists() -> bool:
            with session_scope(self.engine) as session:
                return session.get(Ticket, ticket_id) is not None

        return await anyio.to_thread.run_sync(exists)

    async def _suggest_when_quiet(self) -> None:
        while True:
            await self.changed.wait()
            first_change = asyncio.get_running_loop().time()
            while True:  # wait until the client has been quiet for a moment, but not for ever
                self.changed.clear()
                left = MAX_WAIT_SECONDS - (asyncio.get_running_loop().time() - first_change)
                if left <= 0:
                    break
                try:
                    await asyncio.wait_for(self.changed.wait(), min(DEBOUNCE_SECONDS, left))
                except TimeoutError:
                    break
            version, text = self.version, self.text
            if not text.strip():
                continue
            try:
                suggestions = await anyio.to_thread.run_sync(self._suggest, text)
            except DomainError as exc:
                await self._error(exc.code, exc.message)
                continue
            except Exception:
                # The socket stays useful: the next change is tried again.
                log.exception("live suggestions failed")
                await self._error("internal_error", "Suggestions failed on our side; the next update retries.")
                continue
            if version != self.version:
                continue  # the conversation moved on; its newer text is already waiting
            await self.socket.send_json(
                {"type": "suggestions", "version": version, "suggestions": suggestions.model_dump(mode="json")}
            )

    def _suggest(self, text: str) -> Suggestions:
        try:
            request = SuggestionRequest(text=text, **self.limits)
        except ValidationError as exc:  # the limits were checked on arrival; this is the text
            raise DomainError(str(exc.errors()[0]["msg"]), code="invalid_message") from None
        with session_scope(self.engine) as session:
            suggestions = self.assist.suggest(session, request)
        suggestions.ticket_id = self.ticket_id
        return suggestions

    async def _error(self, code: str, message: str) -> None:
        await self.socket.send_json({"type": "error", "error": {"code": code, "message": message}})
