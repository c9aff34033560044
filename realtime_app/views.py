"""REST for clients without a socket: chat history and sending, and missed notifications.

Sending goes through :func:`realtime_app.chat.send_message`, the same validation, storage and
delivery as a WebSocket ``chat.message`` frame.
"""

from __future__ import annotations

import math
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import chat, notifications
from .conf import realtime_settings
from .errors import InvalidInput, RealtimeError


def error_response(exc: RealtimeError) -> Response:
    response = Response(exc.as_dict(), status=exc.status)
    if exc.retry_after is not None:
        response["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    return response


def page_size(request: Request, default: int = 50) -> int:
    raw = request.query_params.get("limit")
    maximum = int(realtime_settings.MAX_PAGE_SIZE)
    if raw is None:
        return min(default, maximum)
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput("'limit' must be an integer.", code="invalid_limit") from None
    if not 1 <= value <= maximum:
        raise InvalidInput(f"'limit' must be between 1 and {maximum}.", code="invalid_limit")
    return value


class SendMessageSerializer(serializers.Serializer):
    text = serializers.CharField(trim_whitespace=False, allow_blank=True)
    client_id = serializers.CharField(required=False, max_length=100,
                                      help_text="Resending with the same client_id returns the original (200).")


MESSAGE_SCHEMA = inline_serializer("ChatMessage", {
    "type": serializers.CharField(), "id": serializers.CharField(), "from": serializers.CharField(),
    "to": serializers.CharField(), "text": serializers.CharField(), "sent_at": serializers.DateTimeField(),
    "cursor": serializers.CharField(),
})


class ChatMessagesView(APIView):
    """``GET`` a page of the conversation with ``user_id``; ``POST`` a message to them."""

    @extend_schema(
        parameters=[OpenApiParameter("before", OpenApiTypes.STR, description="stream id; older messages only"),
                    OpenApiParameter("limit", OpenApiTypes.INT)],
        responses=inline_serializer("ChatHistory", {"messages": serializers.ListField(child=serializers.DictField()),
                                                    "next_before": serializers.CharField(allow_null=True)}),
    )
    def get(self, request: Request, user_id: str) -> Response:
        try:
            messages, next_before = chat.history(request.user.pk, user_id, before=request.query_params.get("before"),
                                                 limit=page_size(request))
        except RealtimeError as exc:
            return error_response(exc)
        return Response({"messages": [m.as_frame() for m in messages], "next_before": next_before})

    @extend_schema(request=SendMessageSerializer, responses={201: MESSAGE_SCHEMA, 200: MESSAGE_SCHEMA})
    def post(self, request: Request, user_id: str) -> Response:
        data: Any = request.data
        if not isinstance(data, dict) or "text" not in data:
            return error_response(InvalidInput("'text' is required.", code="missing_field"))
        try:
            message = chat.send_message(request.user, user_id, data["text"], client_id=data.get("client_id"))
        except RealtimeError as exc:
            return error_response(exc)
        # A resent client_id: the original message, nothing new created (200, not 201).
        return Response(message.as_frame(), status=status.HTTP_200_OK if message.duplicate else status.HTTP_201_CREATED)


class NotificationsView(APIView):
    """``GET`` the caller's notifications after ``since`` (all retained ones without it), oldest first."""

    @extend_schema(
        parameters=[OpenApiParameter("since", OpenApiTypes.STR), OpenApiParameter("limit", OpenApiTypes.INT)],
        responses=inline_serializer("NotificationPage", {
            "notifications": serializers.ListField(child=serializers.DictField()),
            "resync_required": serializers.BooleanField(),
            "last_id": serializers.CharField(allow_null=True),
            "more": serializers.BooleanField(help_text="The page is full: read again with since=last_id."),
        }),
    )
    def get(self, request: Request) -> Response:
        since = request.query_params.get("since")
        try:
            items, lost, more = notifications.notifications_since(request.user.pk, since, limit=page_size(request))
        except RealtimeError as exc:
            return error_response(exc)
        last_id = items[-1].id if items else (since or None)
        return Response({"notifications": [item.as_frame() for item in items], "resync_required": lost,
                         "last_id": last_id, "more": more})
