"""Live counters and private libraries over GraphQL and WebSockets."""
