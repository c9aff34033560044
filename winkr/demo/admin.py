from django.contrib import admin

from .models import Like, Photo, Profile


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "display_name", "gender", "birth_date", "location_updated_at", "updated_at")
    search_fields = ("display_name", "user__username")
    list_filter = ("gender",)
    raw_id_fields = ("user",)


@admin.register(Photo)
class PhotoAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "is_primary", "width", "height", "created_at")
    raw_id_fields = ("user",)


@admin.register(Like)
class LikeAdmin(admin.ModelAdmin):
    list_display = ("from_user", "to_user", "created_at")
    raw_id_fields = ("from_user", "to_user")
