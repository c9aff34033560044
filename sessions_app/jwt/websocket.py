"""Channels: authenticate WebSockets with a JWT and close them (4401) when it is revoked.

The token comes from ``?token=<access>``, or from ``Sec-WebSocket-Protocol: bearer, <access>``
(browsers cannot set headers on a WebSocket), else the session cookie decides (Channels'
own ``AuthMiddleware``). Invalid or revoked tokens are accepted then closed with 4401, since
a close before accept reaches the client as a bare HTTP 403 without the code.

Sockets already open learn of a revocation through the channel layer: every authenticated
socket joins a group per device session and per user, and revocation sends ``jwt.revoked``
there (:func:`notify_revoked`); :class:`RevocationMixin` closes the socket with 4401.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import async_to_sync
from channels.auth import AuthMiddlewareStack
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from channels.middleware import BaseMiddleware
from redis.exceptions import RedisError
from rest_framework.exceptions import APIException

from .authentication import RevocationUnavailable, aauthenticate_raw, token_claims
from .blacklist import blacklist
from .claims import SESSION_CLAIM
from .conf import jwt_settings

logger = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = 4401
CLOSE_TRY_AGAIN = 1013
REVOKED_EVENT = "jwt.revoked"


def _group(kind: str, value: object) -> str:
    # Group names allow only [A-Za-z0-9._-] and < 100 characters: hash the id.
    return f"winkr-revoke-{kind}.{hashlib.sha256(str(value).encode()).hexdigest()[:40]}"


def session_group(session_id: object) -> str:
    return _group("s", session_id)


def user_group(user_id: object) -> str:
    return _group("u", user_id)


def token_from_scope(scope: dict[str, Any]) -> tuple[str | None, str | None]:
    """(raw token, subprotocol to accept with) from the query string or the subprotocol list."""
    protocols = list(scope.get("subprotocols") or [])
    marker = jwt_settings.WEBSOCKET_SUBPROTOCOL
    if marker in protocols:
        index = protocols.index(marker)
        if index + 1 < len(protocols):
            return protocols[index + 1], marker
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("token"):
        return query["token"][0], None
    return None, None


class JWTAuthMiddleware(BaseMiddleware):
    """Sets ``scope["user"]``, ``scope["auth"]`` (the token) and ``scope["jwt_session_id"]``."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope.get("type") != "websocket":
            return await self.inner(scope, receive, send)
        raw, subprotocol = token_from_scope(scope)
        if raw is None:
            return await self.inner(scope, receive, send)
        try:
            user, token = await aauthenticate_raw(raw)
        except RevocationUnavailable:
            return await self.refuse(receive, send, subprotocol, CLOSE_TRY_AGAIN)
        except APIException:
            return await self.refuse(receive, send, subprotocol, CLOSE_UNAUTHORIZED)
        scope = dict(scope, user=user, auth=token, jwt_session_id=token.get(SESSION_CLAIM),
                     jwt_subprotocol=subprotocol)
        return await self.inner(scope, receive, send)

    @staticmethod
    async def refuse(receive: Any, send: Any, subprotocol: str | None, code: int) -> None:
        message = await receive()
        if message.get("type") != "websocket.connect":
            return
        await send({"type": "websocket.accept", "subprotocol": subprotocol})
        await send({"type": "websocket.close", "code": code})


def JWTAuthMiddlewareStack(inner: Any) -> Any:  # noqa: N802 - named like Channels' AuthMiddlewareStack
    """Cookies, session, session user, then the JWT (which wins when present)."""
    return AuthMiddlewareStack(JWTAuthMiddleware(inner))


def revocation_groups(scope: dict[str, Any]) -> list[str]:
    groups = []
    if scope.get("jwt_session_id"):
        groups.append(session_group(scope["jwt_session_id"]))
    elif getattr(scope.get("session"), "session_key", None):
        groups.append(session_group(scope["session"].session_key))
    user = scope.get("user")
    if getattr(user, "is_authenticated", False):
        groups.append(user_group(user.pk))
    return groups


class RevocationMixin:
    """For ``AsyncWebsocketConsumer`` subclasses: refuse anonymous sockets, close revoked ones (4401).

    Put it first in the bases. Consumers keep their own ``connect``; call ``self.accept(
    self.scope.get("jwt_subprotocol"))`` there so a subprotocol-token client gets its protocol back.
    """

    require_authentication = True
    accepted = False
    groups: list[str]
    scope: dict[str, Any]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Channels' dispatch, plus a "try again" close (1013) when Redis fails under it.

        The channel layer can fail before any handler runs (the pub/sub layer subscribes the socket's
        channel first), while joining groups, or in its receive loop. Without this the application
        crashed: the client saw 1011 or an HTTP 500, and disconnect() never ran, so a consumer's
        heartbeat kept its user online.
        """
        try:
            await super().__call__(scope, receive, send)  # type: ignore[misc]
        except (RedisError, OSError) as exc:
            logger.warning("WebSocket closed, Redis (channel layer) unavailable: %r", exc)
            if getattr(self, "channel_name", None) is None:  # nothing read from the client yet
                await JWTAuthMiddleware.refuse(receive, send, scope.get("jwt_subprotocol"), CLOSE_TRY_AGAIN)
                return
            if not self.accepted:
                await send({"type": "websocket.accept", "subprotocol": scope.get("jwt_subprotocol")})
            await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN})
            with contextlib.suppress(StopConsumer):
                await self.websocket_disconnect({"code": CLOSE_TRY_AGAIN})

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        if self.require_authentication and not getattr(self.scope.get("user"), "is_authenticated", False):
            await self.accept(self.scope.get("jwt_subprotocol"))
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        self.groups = [*getattr(self, "groups", []), *revocation_groups(self.scope)]
        await super().websocket_connect(message)
        # A revocation between the middleware's check and joining the groups sent its event to
        # no one: look once more now that we are listening.
        token = self.scope.get("auth")
        if token is not None:
            try:
                revoked = (await blacklist.acheck(token_claims(token), with_user=False)).revoked
            except RedisError:
                revoked = False  # the middleware just checked; the groups now carry any revocation
            if revoked:
                await self.close(code=CLOSE_UNAUTHORIZED)

    async def accept(self, subprotocol: str | None = None, headers: Any = None) -> None:
        self.accepted = True
        await super().accept(subprotocol, headers)  # type: ignore[misc]

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        # Channels' version stops at the first group_discard error and never calls disconnect(), which
        # is where consumers stop heartbeats and mark presence closed: leave groups best effort instead.
        for group in self.groups:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except (RedisError, OSError) as exc:
                logger.warning("Could not leave group %s on disconnect: %r", group, exc)
        self.groups = []
        await super().websocket_disconnect(message)

    async def jwt_revoked(self, event: dict[str, Any]) -> None:
        await self.close(code=CLOSE_UNAUTHORIZED)


class RevocableJsonConsumer(RevocationMixin, AsyncJsonWebsocketConsumer):
    """A JSON consumer that accepts authenticated sockets (with the token's subprotocol)."""

    async def connect(self) -> None:
        await self.accept(self.scope.get("jwt_subprotocol"))


async def anotify_revoked(groups: Iterable[str], reason: str) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for group in groups:
        try:
            await layer.group_send(group, {"type": REVOKED_EVENT, "reason": reason})
        except (RedisError, OSError):
            # Best effort on every path, including a task scheduled by notify_revoked: logged, not raised.
            logger.exception("Could not notify open WebSockets of %s of a revocation (%s)", group, reason)


def notify_revoked(groups: Iterable[str], reason: str) -> None:
    """Tell open sockets of these groups to close. Best effort: a layer outage is logged, not raised."""
    groups = list(groups)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is None:
        async_to_sync(anotify_revoked)(groups, reason)
    else:  # called synchronously from inside an event loop: cannot block it, so schedule
        task = loop.create_task(anotify_revoked(groups, reason))
        _PENDING.add(task)
        task.add_done_callback(_PENDING.discard)


_PENDING: set[asyncio.Task] = set()
