"""``/api/auth/``: register, token, token/refresh, logout, logout-all."""

from __future__ import annotations

import logging
from typing import Any, cast

from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth import logout as django_logout
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
from rest_framework_simplejwt.tokens import Token

from caching_app.async_views import AsyncAPIView
from sessions_app import usernames
from sessions_app.devices import client_ip, device_sent_by
from sessions_app.revocation import log_out_everywhere
from sessions_app.views import SessionStoreAPIView

from . import devices, metrics, users
from .authentication import RedisJWTAuthentication, token_claims
from .blacklist import blacklist
from .claims import SESSION_CLAIM
from .conf import jwt_settings
from .serializers import (
    RegisterSerializer,
    TokenObtainSerializer,
    TokenPairSerializer,
    TokenRefreshSerializer,
)
from .tokens import SessionRefreshToken

logger = logging.getLogger(__name__)


class AuthAPIView(APIView):
    """A Redis outage answers 503 JSON (caching_app.foundation.errors.exception_handler).

    Refused credentials are 401 with ``WWW-Authenticate`` even on views without
    authentication classes (as simplejwt's ``TokenViewBase`` does), not DRF's 403.
    """

    redis_unavailable_detail = SessionStoreAPIView.redis_unavailable_detail

    # DRF's APIView returns None without authenticators too; its stubs say str.
    def get_authenticate_header(self, request: Request) -> str | None:  # type: ignore[override]
        if self.get_authenticators():
            return super().get_authenticate_header(request)
        return JWTAuthentication().authenticate_header(request)


class UsernameTaken(APIException):
    """409: the name is taken (ignoring case); the request was well formed, the state conflicts."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "username_taken"

    def __init__(self) -> None:
        super().__init__({"username": [_("A user with that username already exists.")], "code": self.default_code})


class RegisterView(AuthAPIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=RegisterSerializer, responses={
        201: inline_serializer("Registered", {"id": serializers.IntegerField(), "username": serializers.CharField()}),
        409: OpenApiResponse(description="That username is taken (compared ignoring case).")})
    def post(self, request: Request) -> Response:
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if usernames.is_taken(data["username"]):
            raise UsernameTaken()
        model = get_user_model()
        try:
            # One transaction: the user and what post_save creates with it (the demo's profile) exist
            # together or not at all; the savepoint keeps an outer transaction usable on PostgreSQL.
            with transaction.atomic():
                user = model._default_manager.create_user(
                    **{model.USERNAME_FIELD: data["username"]}, email=data.get("email", ""),
                    password=data["password"])
        except IntegrityError as exc:  # lost a race with a registration of the same name
            if usernames.is_taken(data["username"]):
                raise UsernameTaken() from exc
            raise
        return Response({"id": user.pk, "username": user.get_username()}, status=status.HTTP_201_CREATED)


class TokenObtainView(AuthAPIView):
    """Log in: a new device session and its token pair."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @staticmethod
    def login_throttle_classes() -> list[Any]:
        return list(jwt_settings.LOGIN_THROTTLE_CLASSES)  # imported by the settings object

    def get_throttles(self) -> list[Any]:
        return [*super().get_throttles(), *(cls() for cls in self.login_throttle_classes())]

    @extend_schema(request=TokenObtainSerializer, responses={200: TokenPairSerializer})
    def post(self, request: Request) -> Response:
        serializer = TokenObtainSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = authenticate(request._request, username=data["username"], password=data["password"])
        if user is None or not user.is_active:
            raise AuthenticationFailed(_("No active account found with the given credentials"),
                                       code="no_active_account")
        # Device info: the body's "device" object, else the X-Device-* headers sessions_app reads.
        device = {k: v for k, v in (data.get("device") or {}).items() if v} or device_sent_by(request)
        session_id = devices.start(user, ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT"),
                                   device=device)
        refresh = SessionRefreshToken.for_session(user, session_id)
        for throttle in self.login_throttle_classes():  # a good password is not a failed attempt
            release = getattr(throttle, "release", None)
            if release is not None:
                release(request)
        return Response({"access": str(refresh.access_token), "refresh": str(refresh), "session_id": session_id})


class TokenRefreshView(AuthAPIView):
    """Rotate: the presented refresh token is spent; presenting it again revokes its device session."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=TokenRefreshSerializer, responses={200: inline_serializer(
        "RefreshedPair", {"access": serializers.CharField(), "refresh": serializers.CharField()})})
    def post(self, request: Request) -> Response:
        serializer = TokenRefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        raw = serializer.validated_data["refresh"]
        if len(raw) > jwt_settings.MAX_TOKEN_BYTES:
            raise InvalidToken(_("Token is too long."))
        try:
            refresh = SessionRefreshToken(raw)
        except TokenError as exc:
            raise InvalidToken(exc.args[0]) from exc
        claims = token_claims(refresh)
        outcome = blacklist.rotate_refresh(claims)
        if outcome == "reused":
            metrics.REFRESH_REUSE.inc()
            logger.warning("Refresh token reuse for user %s, session %s: session revoked", claims.user_id, claims.sid)
            if claims.sid is not None:
                devices.end(claims.user_id, claims.sid, reason="revoked")
            else:
                blacklist.revoke_user(claims.user_id)
            raise AuthenticationFailed(_("Refresh token was already used; this session has been logged out."),
                                       code="token_reused")
        if outcome != "ok":
            raise AuthenticationFailed(_("Token has been revoked."), code="token_revoked")
        if claims.sid is not None and not devices.is_live(claims.sid, claims.user_id):
            blacklist.revoke_session(claims.user_id, claims.sid)
            raise AuthenticationFailed(_("This device session has ended."), code="session_revoked")
        try:
            user = users.fetch_user(claims.user_id)
        except users.UserNotFound as exc:
            raise AuthenticationFailed(_("User not found"), code="user_not_found") from exc
        if not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        new = refresh.rotated()
        if claims.sid is not None:
            devices.touch(claims.sid)
        return Response({"access": str(new.access_token), "refresh": str(new)})


class MeView(AsyncAPIView, AuthAPIView):
    """Who this token belongs to, and its device session."""

    authentication_classes = [RedisJWTAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: inline_serializer("TokenOwner", {
        "id": serializers.IntegerField(), "username": serializers.CharField(),
        "session_id": serializers.CharField(allow_null=True)})})
    async def get(self, request: Request) -> Response:  # on the event loop (caching_app.async_views)
        token = cast(Token, request.auth)  # RedisJWTAuthentication's access token
        return Response({"id": request.user.pk, "username": request.user.get_username(),
                         "session_id": token.get(SESSION_CLAIM)})


class LogoutView(AuthAPIView):
    """Log this device out: its access and refresh tokens stop working on the next request."""

    authentication_classes = [RedisJWTAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        token = cast(Token, request.auth)  # RedisJWTAuthentication's access token
        session_id = token.get(SESSION_CLAIM)
        if session_id is not None:
            devices.end(request.user.pk, str(session_id))
        else:  # a token without a device session (issued elsewhere): revoke just this one
            blacklist.add_token(token)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(AuthAPIView):
    """Log the user out everywhere (:func:`sessions_app.revocation.log_out_everywhere`): every token, every
    device and cookie session, every open socket."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: inline_serializer(
        "LoggedOutEverywhere", {"sessions_ended": serializers.IntegerField()})})
    def post(self, request: Request) -> Response:
        count = log_out_everywhere(request.user.pk, reason="logout")
        if getattr(request._request, "session", None) is not None and request.auth is None:
            django_logout(request._request)
        return Response({"sessions_ended": count})
