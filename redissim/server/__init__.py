"""The Redis 7.0 server model: event loop, keyspace, command table, expiry, eviction."""
