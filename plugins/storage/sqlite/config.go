package sqlite

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Config is the provider's JSON config block.
type Config struct {
	// Path is the database file. Required; its directory is created if missing.
	Path string `json:"path"`
	// Synchronous is SQLite's synchronous setting: "normal" or "full". Empty means "full"
	// (every commit is fsynced; "normal" may lose the last commits on power loss, never corrupt).
	Synchronous string `json:"synchronous"`
	// BusyTimeoutMs is how long a connection waits for a lock. Zero means 5000.
	BusyTimeoutMs int `json:"busyTimeoutMs"`
	// CompactOps moves the op log file's ops into the main database once this many are
	// waiting there. Zero means 16384.
	CompactOps int `json:"compactOps"`
	// CompactIntervalMs moves them at the latest this long after the oldest arrived. Zero means
	// 2000.
	CompactIntervalMs int `json:"compactIntervalMs"`
}

// parseConfig decodes raw strictly and applies defaults.
func parseConfig(raw []byte) (Config, error) {
	var cfg Config
	if len(bytes.TrimSpace(raw)) == 0 {
		return cfg, errors.New(`sqlite config: "path" is required, e.g. {"path": "/var/lib/opstream/opstream.db"}`)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("sqlite config: %w (keys: path, synchronous, busyTimeoutMs, compactOps, compactIntervalMs)", err)
	}
	if dec.More() {
		return cfg, errors.New("sqlite config: trailing data after the JSON object")
	}
	if cfg.Path == "" {
		return cfg, errors.New(`sqlite config: "path" is required, e.g. {"path": "/var/lib/opstream/opstream.db"}`)
	}
	switch s := strings.ToLower(cfg.Synchronous); s {
	case "":
		cfg.Synchronous = "full"
	case "normal", "full":
		cfg.Synchronous = s
	default:
		return cfg, fmt.Errorf(`sqlite config: synchronous %q: want "normal" or "full"`, cfg.Synchronous)
	}
	switch {
	case cfg.BusyTimeoutMs == 0:
		cfg.BusyTimeoutMs = 5000
	case cfg.BusyTimeoutMs < 0:
		return cfg, fmt.Errorf("sqlite config: busyTimeoutMs %d: must not be negative", cfg.BusyTimeoutMs)
	}
	switch {
	case cfg.CompactOps == 0:
		cfg.CompactOps = 16384
	case cfg.CompactOps < 0:
		return cfg, fmt.Errorf("sqlite config: compactOps %d: must not be negative", cfg.CompactOps)
	}
	switch {
	case cfg.CompactIntervalMs == 0:
		cfg.CompactIntervalMs = 2000
	case cfg.CompactIntervalMs < 0:
		return cfg, fmt.Errorf("sqlite config: compactIntervalMs %d: must not be negative", cfg.CompactIntervalMs)
	}
	return cfg, nil
}

// logPath is the op log file next to the main database: opstream.db -> opstream.oplog.db.
func (c Config) logPath() string {
	return strings.TrimSuffix(c.Path, ".db") + ".oplog.db"
}
