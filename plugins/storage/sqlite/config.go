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
		return cfg, fmt.Errorf("sqlite config: %w (keys: path, synchronous, busyTimeoutMs)", err)
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
	return cfg, nil
}
