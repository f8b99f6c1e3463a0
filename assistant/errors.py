"""Domain errors and their one mapping to HTTP: every error body is ``{"error": {code, message, details}}``."""

from __future__ import annotations

import errno
import json
import logging
import os
import traceback
from dataclasses import dataclass
from types import CodeType
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException, WebSocketException
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

log = logging.getLogger("assistant")


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: Any = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code:
            self.code = code


class InvalidInput(DomainError):
    status_code = 400
    code = "validation_error"


class InvalidSignature(DomainError):
    status_code = 401
    code = "invalid_signature"


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class ServiceUnavailable(DomainError):
    status_code = 503
    code = "not_ready"


class RateLimited(DomainError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message, details={"retry_after_seconds": retry_after_seconds})
        self.retry_after_seconds = retry_after_seconds


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "not_ready",
}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


# Where a guard leaves the error that refused a WebSocket, for ``websocket_denials`` to answer with.
WEBSOCKET_DENIAL = "assistant.websocket_denial"


def deny_websocket(scope: Any, exc: DomainError) -> WebSocketException:
    """The exception that refuses a WebSocket before it is accepted, ``exc`` kept for ``websocket_denials``."""
    scope[WEBSOCKET_DENIAL] = exc
    # A close frame's reason holds at most 123 bytes.
    reason = exc.message.encode()[:120].decode(errors="ignore")
    return WebSocketException(detail=reason, code=4000 + exc.status_code)


def websocket_denials(app: Any) -> Any:
    """ASGI middleware: a WebSocket refused before it was accepted (no key, a wrong one, a role the route does not
    admit) answers with the status and JSON error every other route gives, where the server can send an HTTP answer
    to a WebSocket handshake (ASGI's ``websocket.http.response``; uvicorn can). Without it the handshake fails
    with a bare 403."""

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket" or "websocket.http.response" not in (scope.get("extensions") or {}):
            await app(scope, receive, send)
            return
        accepted = False

        async def answering_send(message: Any) -> None:
            nonlocal accepted
            accepted = accepted or message["type"] == "websocket.accept"
            denial = scope.get(WEBSOCKET_DENIAL)
            if message["type"] == "websocket.close" and not accepted and isinstance(denial, DomainError):
                body = json.dumps(error_body(denial.code, denial.message)).encode()
                headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
                await send({"type": "websocket.http.response.start", "status": denial.status_code, "headers": headers})
                await send({"type": "websocket.http.response.body", "body": body})
                return
            await send(message)

        await app(scope, receive, answering_send)

    return middleware


def _response(status: int, code: str, message: str, details: Any = None, headers: Any = None) -> Response[Any]:
    return Response(
        content=error_body(code, message, details),
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers,
    )


def handle_domain_error(_: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    headers = {"Retry-After": str(exc.retry_after_seconds)} if isinstance(exc, RateLimited) else None
    return _response(exc.status_code, exc.code, exc.message, exc.details, headers=headers)


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if isinstance(exc, ValidationException) and _missing_body(exc):
        return _response(400, "empty_body", "The request has no body; send a JSON object.")
    if isinstance(exc, ValidationException):
        message = exc.detail if exc.detail and exc.detail != "Bad Request" else "The request is not valid."
        details = _field_details(request, exc.extra)
        # Field errors come with details; the detail text holds the URL, so "JSON" in a query says nothing.
        if details is None and ("JSON" in message or "decode" in message.lower()):
            return _response(status, "malformed_json", "The request body is not valid JSON.")
        return _response(status, "validation_error", message, details)
    if status == 400:
        # Litestar raises a plain 400 when the body cannot be decoded at all.
        if "truncated" in str(exc.detail):
            # msgspec says so for a body cut short, and for a high surrogate escape without its low half.
            return _response(
                status,
                "malformed_json",
                "The request body is not valid JSON: it ends early, or holds half of an escaped character pair "
                "(such as \\ud83d without the \\ude00 that completes it).",
            )
        return _response(status, "malformed_json", f"The request body is not valid JSON ({exc.detail}).")
    if status == 413:
        return _response(status, "body_too_large", "The request body is larger than this service accepts.")
    code = _HTTP_CODES.get(status, "http_error")
    return _response(status, code, str(exc.detail), exc.extra or None, headers=exc.headers)


def _field_details(request: Request[Any, Any, Any], extra: Any) -> Any:
    """Litestar's ``{key, message, source}`` as this service's ``{field, message}``, a parameter under the name
    the client sends (``from``, not the handler's ``start``), and ``in``: where it was sent."""
    if not isinstance(extra, list):
        return extra or None
    handler = request.scope.get("route_handler")
    signature = getattr(handler, "parsed_fn_signature", None)
    parameters = getattr(signature, "parameters", {})
    details = []
    for item in extra:
        if not isinstance(item, dict):
            details.append(item)
            continue
        key = item.get("key")
        aliased = isinstance(key, str) and item.get("source") != "body"
        definition = getattr(parameters.get(key), "kwarg_definition", None) if aliased else None
        message = str(item.get("message", ""))
        if "datetime" in message.lower():
            message += " (e.g. 2026-11-01T00:00:00Z; an offset's '+' is sent as %2B)"
        detail = {"field": getattr(definition, "name", None) or key, "message": message}
        if item.get("source"):
            detail["in"] = item["source"]
        details.append(detail)
    return details or None


def _missing_body(exc: ValidationException) -> bool:
    """Litestar reads an empty body (or ``null``) as nothing and reports the handlers' body parameter, ``data``,
    as a missing key: its message is the KeyError's, ``'data'``."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    return any(
        isinstance(item, dict) and item.get("key") == "data" and item.get("message") == "'data'" for item in extra
    )


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _response(
        HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", "Something went wrong on our side; try again later."
    )


def handle_not_utf8(request: Request[Any, Any, Any], exc: UnicodeDecodeError) -> Response[Any]:
    """Litestar's JSON decoder raises it for a body in another encoding (latin-1 "café"), whatever charset the
    client names: the client's fault. Raised anywhere else, it is the service's."""
    if any(_decodes_the_body(frame.f_code) for frame, _ in traceback.walk_tb(exc.__traceback__)):
        return _response(400, "malformed_json", "The request body is not JSON in UTF-8; send UTF-8 text.")
    return handle_unexpected(request, exc)


def _decodes_the_body(code: CodeType) -> bool:
    return code.co_name == "decode_json" and f"litestar{os.sep}serialization" in code.co_filename


def handle_too_deep(_: Request[Any, Any, Any], exc: RecursionError) -> Response[Any]:
    return _response(400, "malformed_json", "The request body is nested too deeply to read.")


# What a file lookup raises for a path no file system could hold: a name too long, a part of it not a folder.
_NO_SUCH_PATH = (errno.ENAMETOOLONG, errno.ENOENT, errno.ENOTDIR, errno.EINVAL)


def handle_unreadable_asset(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A static file path no file system can hold (a NUL, a name too long) is no such file, not the service's
    fault; any other failure to read one is."""
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        return handle_http_exception(request, exc)
    # Litestar wraps the file system's OSError in a 500 of its own.
    cause = exc.__cause__ if isinstance(exc, HTTPException) else exc
    if isinstance(cause, ValueError) or (isinstance(cause, OSError) and cause.errno in _NO_SUCH_PATH):
        return _response(404, "not_found", "No such file.")
    return handle_unexpected(request, exc)


# For the static file routes (console assets, the docs page's scripts), whose file lookups raise these.
STATIC_FILE_EXCEPTION_HANDLERS: dict[Any, Any] = {
    ValueError: handle_unreadable_asset,
    OSError: handle_unreadable_asset,
    HTTPException: handle_unreadable_asset,
}

EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: handle_domain_error,
    RecursionError: handle_too_deep,
    UnicodeDecodeError: handle_not_utf8,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}


def validation_details(exc: Any) -> list[dict[str, Any]]:
    """Pydantic's errors as ``[{field, message}]``."""
    return [
        {"field": ".".join(str(part) for part in error.get("loc", ())) or None, "message": error.get("msg")}
        for error in exc.errors()
    ]


ERROR_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    required=["error"],
    properties={
        "error": Schema(
            type=OpenAPIType.OBJECT,
            required=["code", "message"],
            properties={
                "code": Schema(type=OpenAPIType.STRING),
                "message": Schema(type=OpenAPIType.STRING),
                "details": Schema(),
            },
        )
    },
    description='Every error: {"error": {code, message, details}}',
)


@dataclass
class ApiOperation(Operation):
    """Documents a 400 as this service's error body rather than Litestar's ``{status_code, detail, extra}``."""

    def __post_init__(self) -> None:
        if self.responses and "400" in self.responses:
            self.responses["400"] = OpenAPIResponse(
                description="The request is not valid.",
                content={MediaType.JSON: OpenAPIMediaType(schema=ERROR_SCHEMA)},
            )
