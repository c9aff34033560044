from django.urls import path

from .views import ChatMessagesView, NotificationsView

urlpatterns = [
    path("chat/<str:user_id>/messages/", ChatMessagesView.as_view(), name="chat-messages"),
    path("notifications/", NotificationsView.as_view(), name="notifications"),
]
