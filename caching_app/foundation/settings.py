"""Per-app settings objects, in the manner of DRF's ``api_settings``.

Each winkr app reads one namespaced dict from Django settings (``WINKR_SESSIONS``,
``WINKR_RATELIMIT``, ...) through an :class:`AppSettings` instance. Values are read
at attribute access time, cached, and dropped again when ``setting_changed`` fires,
so ``override_settings`` reaches them (unlike DRF's class-body reads, DRF #6030).
DRF documents its own class as internal, hence this small copy of the idea.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string


class AppSettings:
    """Lazy, validated access to one ``WINKR_*`` settings dict with defaults."""

    def __init__(self, setting_name: str, defaults: Mapping[str, Any], import_strings: Iterable[str] = ()):
        self.setting_name = setting_name
        self.defaults = dict(defaults)
        self.import_strings = frozenset(import_strings)
        self._cached: set[str] = set()
        setting_changed.connect(self._on_setting_changed, weak=False)

    @property
    def user_settings(self) -> Mapping[str, Any]:
        value = getattr(settings, self.setting_name, None) or {}
        if not isinstance(value, Mapping):
            msg = f"{self.setting_name} must be a dict, not {type(value).__name__}."
            raise ImproperlyConfigured(msg)
        return value

    def unknown_keys(self) -> list[str]:
        """Keys the project set that no default names: almost always a typo."""
        return sorted(set(self.user_settings) - set(self.defaults))

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_") or attr not in self.defaults:
            msg = f"Invalid {self.setting_name} setting: {attr!r}"
            raise AttributeError(msg)
        value = self.user_settings.get(attr, self.defaults[attr])
        if attr in self.import_strings:
            value = self._import(value, f"{self.setting_name}[{attr!r}]")
        setattr(self, attr, value)
        self._cached.add(attr)
        return value

    def _import(self, value: Any, where: str) -> Any:
        """Dotted paths become objects: a string, each item of a list/tuple (as DRF's perform_import), or each
        value of a dict; an error names the entry (``WINKR_HEALTH['CHECKS'][0]``)."""
        if isinstance(value, (list, tuple)):
            return [self._import(item, f"{where}[{index}]") for index, item in enumerate(value)]
        if isinstance(value, Mapping):
            return {key: self._import(item, f"{where}[{key!r}]") for key, item in value.items()}
        if not isinstance(value, str):
            return value
        try:
            return import_string(value)
        except ImportError as exc:
            msg = f"Could not import {value!r} for {where}: {exc}"
            raise ImproperlyConfigured(msg) from exc

    def reload(self) -> None:
        for attr in self._cached:
            self.__dict__.pop(attr, None)
        self._cached.clear()

    def _on_setting_changed(self, *, setting: str, **kwargs: Any) -> None:
        if setting == self.setting_name:
            self.reload()
