from django.urls import path

from .views import RateLimitStatusView

app_name = "ratelimit"

urlpatterns = [
    path("ratelimit/status/", RateLimitStatusView.as_view(), name="status"),
]
