"""REST for clients without a socket: chat history and sending, and missed notifications.

Sending goes through :func:`realtime_app.chat.send_message`, the same validation, storage and
delivery as a WebSocket ``chat.message`` frame.
"""

from __future__ import annotations

import math
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import chat, notifications
from .conf import realtime_settings
from .errors import InvalidInput, RealtimeError
from .recipients import MAX_INTEGER_ID, integer_user_ids


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
        msg = "'limit' must be an integer."
        raise InvalidInput(msg, code="invalid_limit") from None
    if not 1 <= value <= maximum:
        msg = f"'limit' must be between 1 and {maximum}."
        raise InvalidInput(msg, code="invalid_limit")
    return value


class SendMessageSerializer(serializers.Serializer):
    """The request body, for the schema: the limits :func:`chat.clean_text` / ``clean_client_id`` enforce.

    ``text`` must hold a non-space character; neither may hold NUL. The length limits are the settings'
    values when the schema is generated.
    """

    text = serializers.CharField(max_length=2000)
    client_id = serializers.CharField(required=False, allow_null=True, trim_whitespace=False, min_length=1,
                                      max_length=chat.MAX_CLIENT_ID_LENGTH,
                                      help_text="Resending with the same client_id returns the original (200).")

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        text = fields["text"]
        assert isinstance(text, serializers.CharField)  # declared above
        text.max_length = int(realtime_settings.MAX_TEXT_LENGTH)
        return fields


# A stream id (realtime_app.streams.STREAM_ID), or empty for "none".
CURSOR_PATTERN = "^(?:[0-9]{1,19}(?:-[0-9]{1,19})?)?$"
# As a "before" bound, not 0-0 (nothing is older: 400 invalid_before, realtime_app.streams.client_position).
BEFORE_PATTERN = "^(?:(?![0-]+$)[0-9]{1,19}(?:-[0-9]{1,19})?)?$"


def user_id_parameter() -> OpenApiParameter:
    """The other user's id, typed as :func:`recipients.clean_user_id` accepts it."""
    schema = ({"type": "integer", "minimum": 0, "maximum": MAX_INTEGER_ID} if integer_user_ids()
              else {"type": "string", "minLength": 1})
    return OpenApiParameter("user_id", schema, OpenApiParameter.PATH)


def page_parameters(cursor: str, cursor_help: str, pattern: str = CURSOR_PATTERN) -> list[OpenApiParameter]:
    """``limit`` (1 to MAX_PAGE_SIZE, as :func:`page_size` checks) and a stream-id cursor parameter."""
    return [
        OpenApiParameter(cursor, {"type": "string", "pattern": pattern}, description=cursor_help),
        OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": int(realtime_settings.MAX_PAGE_SIZE)},
                         description="page size"),
    ]


MESSAGE_SCHEMA = inline_serializer("ChatMessage", {
    "type": serializers.CharField(), "id": serializers.CharField(), "from": serializers.CharField(),
    "to": serializers.CharField(), "text": serializers.CharField(), "sent_at": serializers.DateTimeField(),
    "cursor": serializers.CharField(),
})


class ChatMessagesView(APIView):
    """``GET`` a page of the conversation with ``user_id``; ``POST`` a message to them."""

    @extend_schema(
        parameters=[user_id_parameter(), *page_parameters("before", "stream id; older messages only", BEFORE_PATTERN)],
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

    @extend_schema(request=SendMessageSerializer, responses={201: MESSAGE_SCHEMA, 200: MESSAGE_SCHEMA},
                   parameters=[user_id_parameter()])
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
        parameters=page_parameters("since", "stream id; newer notifications only"),
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
