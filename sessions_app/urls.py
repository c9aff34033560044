from django.urls import path

from . import views

app_name = "winkr_sessions"

urlpatterns = [
    path("sessions/", views.SessionListView.as_view(), name="session-list"),
    path("sessions/<str:session_id>/", views.SessionDetailView.as_view(), name="session-detail"),
    path("users/me/presence/", views.MyPresenceView.as_view(), name="my-presence"),
    path("users/<str:user_id>/presence/", views.PresenceView.as_view(), name="user-presence"),
]
