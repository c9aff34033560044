"""Real server processes for ``dev.py``, the test suite and the benchmarks; the apps never use them at run time.

- :mod:`.redis_servers`: find and run ``redis-server`` / ``valkey-server`` (PATH or the ``embedded`` extra),
  a local Redis Cluster and a local Sentinel set-up;
- :mod:`.asgi_servers`: the whole project under daphne, uvicorn or granian on a free port.

One place, so the tests, ``make bench`` and ``dev.py run`` start servers the same way (``make bench``
never imports the test suite, nor pytest).
"""
