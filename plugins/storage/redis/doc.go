// Package redis is the Redis storage.Provider (github.com/redis/go-redis/v9, standalone Redis
// 6.2 or later; Cluster is not supported because an append touches the document's keys and its
// tenant's index in one script).
//
// Per document a head hash {type, rev, epoch, snap}, an op log list (index i holds revision
// i+1) and a snapshot hash; per tenant a sorted set of ids (score 0) paged with ZRANGEBYLEX.
// Key names length-prefix the tenant and id, so any bytes are safe. Appends and PutSnapshot are
// Lua scripts (EVALSHA, reloaded on NOSCRIPT), so each is atomic and conditional on the head; an
// AppendRequest sends one script call per document in a single MULTI/EXEC round trip. See
// README.md for the data model, memory per op and durability.
//
// The provider starts no goroutines of its own; go-redis owns its connection pool, closed by
// Close.
//
// Config (JSON, unknown keys rejected, every key optional):
//
//	{"addr": "127.0.0.1:6379", "passwordEnv": "OPSTREAM_REDIS_PASSWORD", "db": 0,
//	 "keyPrefix": "opstream:", "tls": false, "poolSize": 10}
package redis
