"""Signals of the demo API.

``match_created`` is sent (after the transaction commits) when a like makes a match, with
``user_ids=(first, second)``. realtime_app connects to it to notify both users.
"""

from django.dispatch import Signal

match_created = Signal()
