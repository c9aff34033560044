"""Admin "Sessions" page: live device sessions read from Redis, with revoke actions.

Read-mostly, like simplejwt's token_blacklist admin: staff with the view permission list and
search; revoking (one session, or all of a user's) needs the delete permission.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path
from redis.exceptions import RedisError

from . import services
from .conf import sessions_settings
from .identity import InvalidUserId
from .models import LiveSession
from .revocation import log_out_everywhere

MAX_SEARCHED_USERS = 50


@admin.register(LiveSession)
class LiveSessionAdmin(admin.ModelAdmin):
    change_list_template = "admin/winkr_sessions/livesession/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list:
        name = f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        return [path("", self.admin_site.admin_view(self.changelist_view), name=name)]

    # --- listing -----------------------------------------------------------------------------------------
    def _rows(self, query: str, online: str, page: int) -> tuple[list[dict], bool]:
        users = get_user_model()._default_manager
        size = sessions_settings.ADMIN_PAGE_SIZE
        if query:
            found = users.filter(**{f"{users.model.USERNAME_FIELD}__icontains": query})[:MAX_SEARCHED_USERS]
            records = [record for user in found for record in services.list_sessions(user.pk)]
            has_more = False
        else:
            records = services.browse_sessions(offset=page * size, limit=size + 1)
            has_more = len(records) > size
            records = records[:size]
        user_ids = sorted({record.user_id for record in records})
        names = {str(pk): name for pk, name in users.filter(pk__in=user_ids).values_list(
            "pk", users.model.USERNAME_FIELD)}
        flags = services.online_flags(user_ids) if user_ids else {}
        rows = [{"session": record, "username": names.get(record.user_id, f"#{record.user_id}"),
                 "online": flags.get(record.user_id, False)} for record in records]
        if online in ("yes", "no"):
            rows = [row for row in rows if row["online"] == (online == "yes")]
        return rows, has_more

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            return self._revoke(request)
        query = request.GET.get("q", "").strip()[:150]
        online = request.GET.get("online", "")
        try:
            page = max(0, int(request.GET.get("p", 0)))
        except ValueError:
            page = 0
        error = None
        try:
            rows, has_more = self._rows(query, online, page)
        except RedisError:
            rows, has_more, error = [], False, "Redis is unavailable: live sessions cannot be listed right now."
        base = {"q": query, "online": online}
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts, "title": "Live device sessions", "rows": rows, "query": query, "online": online,
            "error": error, "can_revoke": self.has_delete_permission(request),
            "next_url": f"?{urlencode({**base, 'p': page + 1})}" if has_more else None,
            "previous_url": f"?{urlencode({**base, 'p': page - 1})}" if page else None,
            "online_choices": [("", "All"), ("yes", "Online"), ("no", "Offline")],
            **(extra_context or {}),
        }
        return TemplateResponse(request, self.change_list_template, context)

    # --- actions -----------------------------------------------------------------------------------------
    def _revoke(self, request: HttpRequest) -> HttpResponse:
        if not self.has_delete_permission(request):
            raise PermissionDenied
        action = request.POST.get("action")
        try:
            if action == "revoke_session":
                session_id = request.POST.get("session_id", "")
                if services.delete_session(session_id, reason="revoked"):
                    self.message_user(request, "Session revoked: that device is logged out.", messages.SUCCESS)
                else:
                    self.message_user(request, "That session no longer exists.", messages.WARNING)
            elif action == "revoke_user":
                user_id = request.POST.get("user_id", "")
                try:
                    count = log_out_everywhere(user_id)
                except InvalidUserId:
                    self.message_user(request, "That is not a user id.", messages.ERROR)
                else:
                    self.message_user(request, f"Revoked {count} session(s) of user #{user_id}, and every token and "
                                               "open socket of theirs.", messages.SUCCESS)
            else:
                self.message_user(request, "Unknown action.", messages.ERROR)
        except RedisError:
            self.message_user(request, "Redis is unavailable: nothing was revoked.", messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())
