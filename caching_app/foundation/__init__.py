"""The Redis foundation every winkr app builds on.

Where Redis clients come from and how they are used, for every app: the alias configuration
(``config``), the connection layer (``connections.get_redis`` / ``get_async_redis``), key building
(``keys.make_key``), the Lua script registry (``scripts``), the sync/async twin driver (``twins``),
the per-app settings base class (``settings``), the Redis-unavailable error handler (``errors``) and
the system checks of the Redis configuration (``checks``). The cache services of caching_app sit on
top of it like every other app's.
"""
