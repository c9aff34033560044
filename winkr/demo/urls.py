from django.urls import path, register_converter

from . import views
from .converters import UserIdConverter

register_converter(UserIdConverter, "user_id")

urlpatterns = [
    path("profiles/me/", views.MyProfileView.as_view(), name="demo-profile-me"),
    path("profiles/<user_id:user_id>/", views.ProfileDetailView.as_view(), name="demo-profile"),
    path("profiles/<user_id:user_id>/photos/", views.PhotoListView.as_view(), name="demo-photos"),
    path("matches/", views.MatchesView.as_view(), name="demo-matches"),
    path("matches/<user_id:user_id>/like/", views.LikeView.as_view(), name="demo-like"),
    path("location/", views.LocationView.as_view(), name="demo-location"),
    path("nearby/", views.NearbyView.as_view(), name="demo-nearby"),
]
