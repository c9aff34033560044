"""Channels: authenticate WebSockets with a JWT, and the one mechanism for an authenticated socket's life.

The token comes from ``?token=<access>``, or from ``Sec-WebSocket-Protocol: bearer, <access>``
(browsers cannot set headers on a WebSocket), else the session cookie decides (Channels'
own ``AuthMiddleware``). Invalid or revoked tokens are accepted then closed with 4401, since
a close before accept reaches the client as a bare HTTP 403 without the code.

:class:`RevocationMixin` is the one place that, for every consumer built on it:

- refuses anonymous sockets (4401);
- joins and leaves channel-layer groups: ``self.groups`` (Channels' own attribute) holds the
  revocation groups plus the consumer's :meth:`~RevocationMixin.socket_groups`, joined once before
  ``connect()`` and left once, best effort, on every close path;
- closes the socket (4401) when its device session or user is revoked (:func:`notify_revoked` sends
  ``jwt.revoked`` to those groups) and when its access token expires, unless the client
  re-authenticates on the socket (:meth:`~RevocationMixin.reauthenticate`);
- turns an unexpected exception in a handler into :meth:`~RevocationMixin.handler_failed` (the
  consumer keeps the socket or closes it) instead of a crashed application (1011, no cleanup);
- runs :meth:`~RevocationMixin.cleanup` exactly once whatever the close path: client close, server
  close, Redis failure, a crashed handler, or the task being cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from asgiref.sync import async_to_sync
from channels.auth import AuthMiddlewareStack
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from channels.middleware import BaseMiddleware
from redis.exceptions import RedisError
from rest_framework.exceptions import APIException

from caching_app.foundation.keys import group_name

from .authentication import RevocationUnavailable, aauthenticate_raw, token_claims
from .blacklist import blacklist
from .claims import SESSION_CLAIM
from .conf import jwt_settings

logger = logging.getLogger(__name__)

# Close codes, defined once for every socket. daphne closes through autobahn, whose sendClose() refuses any code
# but 1000 and 3000-4999 from the application, so RFC 6455's 1008/1011/1013 become 4000 + that code.
CLOSE_UNAUTHORIZED = 4401  # authenticate again (HTTP 401)
CLOSE_POLICY_VIOLATION = 4008  # RFC 6455 1008: the client broke a limit (not reading, frame flood)
CLOSE_INTERNAL_ERROR = 4011  # RFC 6455 1011: a server bug; reconnect and sync
CLOSE_TRY_AGAIN = 4013  # RFC 6455 1013: Redis (the channel layer) unavailable; reconnect later
CLOSE_SERVICE_RESTART = 4012  # RFC 6455 1012: reconnect now, with since (a replay after resubscription failed)
REVOKED_EVENT = "jwt.revoked"


def session_group(session_id: object) -> str:
    # A session key is a credential: hashed, since group names are visible to PUBSUB CHANNELS.
    return group_name("winkr.revoke-s", session_id, secret=True)


def user_group(user_id: object) -> str:
    return group_name("winkr.revoke-u", user_id)


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
    if user is not None and getattr(user, "is_authenticated", False):
        groups.append(user_group(user.pk))
    return groups


class ReauthenticationFailed(Exception):
    """An ``auth.refresh`` the socket refuses; ``code`` names why (the socket keeps its current token)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


if TYPE_CHECKING:  # the mixin is checked against the consumer it goes in front of
    from channels.generic.websocket import AsyncJsonWebsocketConsumer as _ConsumerBase
else:
    _ConsumerBase = object


class RevocationMixin(_ConsumerBase):
    """For ``AsyncWebsocketConsumer`` subclasses: authentication, groups, revocation, expiry and cleanup.

    Put it first in the bases. Consumers keep their own ``connect``; call ``self.accept(
    self.scope.get("jwt_subprotocol"))`` there so a subprotocol-token client gets its protocol back.
    Override :meth:`socket_groups` to join more groups, ``disconnect`` for your own cleanup (it runs
    exactly once), and :meth:`handler_failed` to answer a failed handler otherwise than with 4011.
    """

    require_authentication = True
    accepted = False
    cleaned_up = False
    expiry_task: asyncio.Task | None = None
    groups: list[str]
    scope: dict[str, Any]

    def socket_groups(self) -> list[str]:
        """Hook: the consumer's own groups (``self.scope["user"]`` is authenticated here)."""
        return []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Channels' dispatch, plus a "try again" close (4013) when Redis fails under it, and cleanup always.

        The channel layer can fail before any handler runs (the pub/sub layer subscribes the socket's
        channel first), while joining groups, or in its receive loop. Without this the application
        crashed: the client saw 1011 or an HTTP 500, and disconnect() never ran, so a consumer's
        heartbeat kept its user online.
        """
        try:
            await super().__call__(scope, receive, send)
        except (RedisError, OSError) as exc:
            logger.warning("WebSocket closed, Redis (channel layer) unavailable: %r", exc)
            if getattr(self, "channel_name", None) is None:  # nothing read from the client yet
                await JWTAuthMiddleware.refuse(receive, send, scope.get("jwt_subprotocol"), CLOSE_TRY_AGAIN)
                return
            if not self.accepted:
                await send({"type": "websocket.accept", "subprotocol": scope.get("jwt_subprotocol")})
            await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN})
        finally:
            # Every way out (including a cancelled task: daphne cancels an application that outlives its
            # socket) releases the heartbeat, presence and groups. Shielded so a second cancel cannot cut it.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.shield(self.cleanup(CLOSE_TRY_AGAIN))

    async def dispatch(self, message: dict[str, Any]) -> None:
        try:
            await super().dispatch(message)
        except (StopConsumer, RedisError, OSError):
            raise  # StopConsumer ends the socket; Redis failures close with 4013 in __call__
        except Exception as exc:
            logger.exception("Unexpected error handling a %s message on a WebSocket", message.get("type"))
            await self.handler_failed(message, exc)

    async def handler_failed(self, message: dict[str, Any], exc: Exception) -> None:
        """A handler raised: by default close with 4011 (cleanup follows with the disconnect)."""
        await self.close(code=CLOSE_INTERNAL_ERROR)

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        if self.require_authentication and not getattr(self.scope.get("user"), "is_authenticated", False):
            await self.accept(self.scope.get("jwt_subprotocol"))
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        self.groups = [*getattr(self, "groups", []), *revocation_groups(self.scope), *self.socket_groups()]
        await super().websocket_connect(message)  # joins self.groups, then connect()
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
                return
            self.schedule_expiry(token)

    async def accept(self, subprotocol: str | None = None, headers: Any = None) -> None:
        self.accepted = True
        await super().accept(subprotocol, headers)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        # Channels' version stops at the first group_discard error and never calls disconnect(): one
        # cleanup instead, which leaves every group best effort and runs disconnect() once.
        await self.cleanup(message.get("code", 1006))
        raise StopConsumer

    async def cleanup(self, code: int) -> None:
        """The consumer's ``disconnect`` (heartbeat, presence), then leave the groups. Runs once."""
        if self.cleaned_up:
            return
        self.cleaned_up = True
        if self.expiry_task is not None:
            self.expiry_task.cancel()
        try:
            await self.disconnect(code)
        except Exception:
            logger.exception("WebSocket disconnect() failed; leaving its groups anyway")
        for group in getattr(self, "groups", []):
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except (RedisError, OSError) as exc:
                logger.warning("Could not leave group %s on disconnect: %r", group, exc)
        self.groups = []

    async def jwt_revoked(self, event: dict[str, Any]) -> None:
        await self.close(code=CLOSE_UNAUTHORIZED)

    # --- token expiry and re-authentication on the socket -------------------------------------------

    def schedule_expiry(self, token: Any) -> None:
        """Close with 4401 when ``token`` expires (a socket must not outlive its access token)."""
        if self.expiry_task is not None:
            self.expiry_task.cancel()
        expires = token.get("exp")
        if not isinstance(expires, int | float):
            return
        self.expiry_task = asyncio.ensure_future(self._expire_at(float(expires)))

    async def _expire_at(self, expires: float) -> None:
        await asyncio.sleep(max(0.0, expires - time.time()))
        logger.info("WebSocket closed: its access token expired")
        await self.close(code=CLOSE_UNAUTHORIZED)

    async def reauthenticate(self, raw: object) -> int:
        """Swap the socket's token for ``raw`` (a fresh access token of the same user and device session).

        Returns the new expiry (epoch seconds). Raises :class:`ReauthenticationFailed` for a socket
        not authenticated by a token, a token that is invalid, expired or revoked, or one of another
        user or session; the socket keeps its current token (and expiry) then.
        """
        if self.scope.get("auth") is None:
            msg = "not_token_socket"
            raise ReauthenticationFailed(msg, "This socket is not authenticated with a token.")
        if not isinstance(raw, str) or not raw or not raw.isascii() or len(raw) > jwt_settings.MAX_TOKEN_BYTES:
            msg = "invalid_token"
            raise ReauthenticationFailed(msg, "'token' must be an access token.")
        try:
            user, token = await aauthenticate_raw(raw)
        except RevocationUnavailable:
            msg = "unavailable"
            raise ReauthenticationFailed(msg, "Token revocation cannot be checked; try again.") from None
        except APIException:
            msg = "invalid_token"
            raise ReauthenticationFailed(msg, "The token is invalid, expired or revoked.") from None
        if str(user.pk) != str(self.scope["user"].pk):
            msg = "wrong_user"
            raise ReauthenticationFailed(msg, "The token belongs to another user.")
        if token.get(SESSION_CLAIM) != self.scope.get("jwt_session_id"):
            msg = "wrong_session"
            raise ReauthenticationFailed(msg, "The token belongs to another device session.")
        self.scope["auth"] = token
        self.schedule_expiry(token)
        return int(token["exp"])


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
