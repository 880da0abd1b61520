package redis_test

import (
	"fmt"
	"net"
	"sync/atomic"

	"github.com/opstream/opstream/internal/testredis"
)

// redisServer is a private redis-server process (internal/testredis).
type redisServer = testredis.Server

func startRedis(dir string, port int) (*redisServer, error) { return testredis.Start(dir, port) }

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// shared is the server most tests use, started by TestMain; each test gets its own key prefix.
var shared *redisServer

var prefixes atomic.Int64

// nextPrefix returns a key prefix no other test uses.
func nextPrefix() string { return fmt.Sprintf("test%d:", prefixes.Add(1)) }
