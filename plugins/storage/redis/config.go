package redis

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Config is the provider's JSON config block. Every key is optional.
type Config struct {
	// Addr is the server: "host:port" or "unix:///path/to/redis.sock". Empty means
	// "127.0.0.1:6379".
	Addr string `json:"addr"`
	// Password is the AUTH password. Empty means none (or PasswordEnv). Prefer PasswordEnv, so
	// the secret stays out of the config file.
	Password string `json:"password"`
	// PasswordEnv names an environment variable holding the password. It must be set and
	// non-empty when given; it cannot be combined with Password.
	PasswordEnv string `json:"passwordEnv"`
	// DB is the logical database (SELECT). Zero means 0.
	DB int `json:"db"`
	// KeyPrefix starts every key the provider writes, so several deployments can share one
	// server. Empty means "opstream:".
	KeyPrefix string `json:"keyPrefix"`
	// TLS negotiates TLS (1.2 or later, server certificate verified against the system roots).
	// False means plain TCP.
	TLS bool `json:"tls"`
	// PoolSize is the most connections kept open. Zero means 10.
	PoolSize int `json:"poolSize"`
}

// configKeys lists the accepted keys for error messages.
const configKeys = "addr, password, passwordEnv, db, keyPrefix, tls, poolSize"

// parseConfig decodes raw strictly and applies defaults. An empty block means all defaults.
func parseConfig(raw []byte) (Config, error) {
	var cfg Config
	if len(bytes.TrimSpace(raw)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil {
			return cfg, fmt.Errorf("redis config: %w (keys: %s)", err, configKeys)
		}
		if dec.More() {
			return cfg, errors.New("redis config: trailing data after the JSON object")
		}
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:6379"
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "opstream:"
	}
	switch {
	case cfg.PoolSize == 0:
		cfg.PoolSize = 10
	case cfg.PoolSize < 0:
		return cfg, fmt.Errorf("redis config: poolSize %d: must not be negative", cfg.PoolSize)
	}
	if cfg.DB < 0 {
		return cfg, fmt.Errorf("redis config: db %d: must not be negative", cfg.DB)
	}
	if cfg.Password != "" && cfg.PasswordEnv != "" {
		return cfg, errors.New(`redis config: give "password" or "passwordEnv", not both`)
	}
	if cfg.PasswordEnv != "" {
		cfg.Password = os.Getenv(cfg.PasswordEnv)
		if cfg.Password == "" {
			return cfg, fmt.Errorf(`redis config: "passwordEnv": environment variable %s is unset or empty`, cfg.PasswordEnv)
		}
	}
	if path, ok := strings.CutPrefix(cfg.Addr, "unix://"); ok {
		if path == "" {
			return cfg, fmt.Errorf(`redis config: addr %q: want "unix:///path/to/redis.sock"`, cfg.Addr)
		}
		if cfg.TLS {
			return cfg, errors.New("redis config: tls is not supported over a unix socket")
		}
	} else if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return cfg, fmt.Errorf(`redis config: addr %q: want "host:port" or "unix:///path.sock": %w`, cfg.Addr, err)
	}
	return cfg, nil
}

// options turns the config into go-redis client options.
func (cfg Config) options() *goredis.Options {
	opt := &goredis.Options{
		Network:  "tcp",
		Addr:     cfg.Addr,
		Password: cfg.Password,
		DB:       cfg.DB,
		PoolSize: cfg.PoolSize,
		// A retried append whose first attempt committed would come back as a conflict; the
		// provider reports ErrUnavailable instead and lets the host decide (see README).
		MaxRetries:            -1,
		DialTimeout:           5 * time.Second,
		ReadTimeout:           10 * time.Second,
		WriteTimeout:          10 * time.Second,
		ContextTimeoutEnabled: true,
		DisableIdentity:       true,
	}
	if path, ok := strings.CutPrefix(cfg.Addr, "unix://"); ok {
		opt.Network, opt.Addr = "unix", path
	}
	if cfg.TLS {
		host, _, _ := net.SplitHostPort(cfg.Addr)
		opt.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	return opt
}
