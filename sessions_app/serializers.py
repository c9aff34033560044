"""Response shapes of the sessions API (also the OpenAPI schema drf-spectacular publishes)."""

from typing import Any

from rest_framework import serializers


class DeviceSerializer(serializers.Serializer):
    device_id = serializers.CharField(allow_null=True)
    device_type = serializers.CharField(allow_null=True)
    os = serializers.CharField(allow_null=True)
    browser = serializers.CharField(allow_null=True)
    location = serializers.CharField(allow_null=True)


class DeviceSessionSerializer(serializers.Serializer):
    id = serializers.CharField()
    kind = serializers.ChoiceField(choices=["cookie", "jwt"])
    created_at = serializers.DateTimeField()
    last_activity = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    ip = serializers.CharField(allow_null=True)
    user_agent = serializers.CharField(allow_null=True)
    device = DeviceSerializer()
    current = serializers.BooleanField()


class PresenceSerializer(serializers.Serializer):
    online = serializers.BooleanField()
    last_seen = serializers.DateTimeField(allow_null=True)


class MyPresenceSerializer(PresenceSerializer):
    hidden = serializers.BooleanField(help_text="Other users see me offline, with no last_seen.")


class StrictBooleanField(serializers.BooleanField):
    """JSON true/false only: DRF's BooleanField also reads 0, "yes" and "off", which the schema does not allow."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class PresenceSettingsSerializer(serializers.Serializer):
    hidden = StrictBooleanField()
