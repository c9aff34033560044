"""Views of Django's cache framework, for tests/caching/test_django_cache.py (ROOT_URLCONF there)."""

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.http import HttpResponse, JsonResponse
from django.middleware.cache import CacheMiddleware
from django.template import engines
from django.urls import path
from django.utils.decorators import decorator_from_middleware_with_args
from django.views.decorators.cache import cache_page

CALLS = {"page": 0, "middleware": 0, "fragment": 0}


@cache_page(60)
def page(request):
    CALLS["page"] += 1
    return HttpResponse(f"page body {CALLS['page']}")


@decorator_from_middleware_with_args(CacheMiddleware)(page_timeout=60)
def middleware_page(request):
    CALLS["middleware"] += 1
    return HttpResponse(f"middleware body {CALLS['middleware']}")


def _expensive():
    CALLS["fragment"] += 1
    return CALLS["fragment"]


FRAGMENT = engines["django"].from_string("{% load cache %}{% cache 60 sidebar %}fragment {{ work }}{% endcache %}")


def fragment(request):
    return HttpResponse(FRAGMENT.render({"work": _expensive}, request))


def user_by_cache(request, pk):
    user = cache.get(f"user:{pk}")
    if user is None:
        user = get_user_model().objects.get(pk=pk)
        cache.set(f"user:{pk}", user, 60)
        source = "db"
    else:
        source = "cache"
    return JsonResponse({"username": user.username, "class": type(user).__name__, "source": source})


def blob(request):
    data = cache.get("blob")
    if data is None:
        data = bytes(range(256)) * 40  # 10 KiB: compressed on the way in
        cache.set("blob", data, 60)
    return HttpResponse(data, content_type="application/octet-stream")


urlpatterns = [
    path("page/", page),
    path("middleware/", middleware_page),
    path("fragment/", fragment),
    path("user/<int:pk>/", user_by_cache),
    path("blob/", blob),
]
