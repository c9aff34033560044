"""JWT login, refresh rotation and immediate logout backed by a Redis revocation list.

A nested Django app (label ``winkr_jwt``) inside sessions_app: it owns its settings
(``WINKR_JWT``), checks, signal receivers and management commands, and talks to the
device sessions of sessions_app only through ``sessions_app.services`` and the
``device_session_revoked`` signal.
"""
