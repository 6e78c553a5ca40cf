"""``GET /api/approvals`` and ``POST /api/approvals/{id}``: the owner decides from anywhere
on this machine (a terminal, a script) what a headless server's agents wait for.

Only the machine's owner may: a request from loopback with an owner key (``traymind
keys create --owner``, or the tray's own in-process key). An ordinary client key, or
unauthenticated local access, gets 403: the chat app that asked for the action must
not be the one that approves it, and neither may a web page.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from server.errors import InvalidRequest, NotFound, PermissionDenied
from server.security.auth import Identity
from server.security.host_guard import is_loopback_host
from server.state import ServerState

router = APIRouter(prefix="/api/approvals")

MAX_BODY = 4096
NOT_OWNER = (
    "Only the machine's owner may see and decide tool approvals: send an owner key "
    "(create one with `traymind keys create --owner --label NAME`) from this machine."
)


def _state(request: Request) -> ServerState:
    return request.app.state.traymind


def owner_of(request: Request) -> Identity:
    """The caller, when it is the owner on this machine; 401/403 otherwise."""
    state = _state(request)
    peer = request.client.host if request.client else None
    headers = request.headers
    identity = state.authenticator.authenticate(
        headers.get("authorization"), peer, headers.get("host")
    )
    if not identity.owner or not is_loopback_host(peer):
        raise PermissionDenied(NOT_OWNER)
    return identity


@router.get("")
async def list_approvals(request: Request) -> JSONResponse:
    owner_of(request)
    broker = _state(request).approvals
    return JSONResponse(
        {
            "object": "list",
            "data": [p.as_json() for p in broker.pending()],
            "recent": [r.as_json() for r in broker.recent()],
        }
    )


@router.post("/{approval_id}")
async def decide_approval(approval_id: str, request: Request) -> JSONResponse:
    identity = owner_of(request)
    allow, always = _decision(await request.body())
    broker = _state(request).approvals
    by = f"owner key '{identity.key_id}'"
    pending = broker.decide(approval_id, allow, by=by, always=always)
    if pending is None:
        raise NotFound(
            f"No approval {approval_id[:40]!r} is waiting: it was decided already, timed out, "
            "or never existed.",
            code="approval_not_found",
        )
    return JSONResponse({"id": pending.id, "allowed": allow, "always": always and allow, "by": by})


def _decision(body: bytes) -> tuple[bool, bool]:
    """``{"allow": true|false, "always": false}`` (``always`` is optional)."""
    if len(body) > MAX_BODY:
        raise InvalidRequest("The body is too large for a decision.")
    try:
        data: Any = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidRequest(
            'The body must be JSON: {"allow": true} or {"allow": false}.'
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("allow"), bool):
        raise InvalidRequest('Say "allow": true or "allow": false in a JSON object.', param="allow")
    always = data.get("always", False)
    if not isinstance(always, bool):
        raise InvalidRequest('"always" must be true or false.', param="always")
    unknown = sorted(set(data) - {"allow", "always"})
    if unknown:
        raise InvalidRequest(f"Unknown field {unknown[0][:40]!r}.", param=unknown[0][:40])
    return data["allow"], always
