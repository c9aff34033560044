"""Signals of the demo API.

``match_created`` is sent (after the transaction commits) when a like makes a match, with
``user_ids=(first, second)``. The demo's own receiver (``receivers.notify_match``) turns it into
realtime_app notifications: the project wires its apps together, the reusable apps never import it.
"""

from django.dispatch import Signal

match_created = Signal()
