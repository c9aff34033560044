"""Prometheus metrics of realtime_app (default registry, multiprocess-aware through health_app)."""

from prometheus_client import Counter, Gauge

CHAT_MESSAGES = Counter("winkr_realtime_chat_messages", "Chat messages stored and delivered", ["via"])
CHAT_DUPLICATES = Counter("winkr_realtime_chat_duplicates",
                          "Chat messages resent with a client_id already stored (answered with the original)")
NOTIFICATIONS = Counter("winkr_realtime_notifications", "Notifications published", ["kind"])
FRAME_ERRORS = Counter("winkr_realtime_frame_errors", "Client frames refused with an error frame", ["code"])
OPEN_SOCKETS = Gauge("winkr_realtime_open_sockets", "Open WebSocket connections", ["endpoint"],
                     multiprocess_mode="livesum")
REPLAYED = Counter("winkr_realtime_replayed_messages", "Messages and notifications replayed after a reconnect",
                   ["stream"])
RESYNCS = Counter("winkr_realtime_resync_required", "Replays that could not reach back to the client's cursor",
                  ["stream"])
DELIVERY_FAILURES = Counter("winkr_realtime_delivery_failures",
                            "Stored messages whose live delivery through the channel layer failed", ["what"])
SYNC_PAGES = Counter("winkr_realtime_sync_pages", "Replay pages sent to sockets (chat.synced, notification.synced)",
                     ["endpoint"])
CLOSED_SOCKETS = Counter("winkr_realtime_policy_closes",
                         "Sockets closed with 4008 for what they cost (not_reading, frame_rate)", ["why"])
LAYER_RESUBSCRIBES = Counter("winkr_realtime_layer_resubscribes",
                             "Channel-layer subscriptions re-established (open sockets replay what they missed)",
                             ["layer"])
LAYER_DROPPED = Counter("winkr_realtime_layer_dropped",
                        "Events dropped because a channel's in-process queue was full", ["layer"])
