"""Chat and notifications over Channels and Redis Streams, with presence from open sockets."""
