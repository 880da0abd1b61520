package postgres

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
)

// Config is the provider's JSON config block.
type Config struct {
	// DSN is the PostgreSQL connection string, as a URL ("postgres://user:pass@host:5432/db")
	// or keyword/value pairs. Required unless DSNEnv is set; the two are exclusive.
	DSN string `json:"dsn"`
	// DSNEnv names an environment variable holding the DSN (for example "OPSTREAM_PG_DSN"), so
	// passwords stay out of config files. The variable must be set and non-empty.
	DSNEnv string `json:"dsnEnv"`
	// MaxConns is the most connections the pool opens. Zero means 10.
	MaxConns int `json:"maxConns"`
	// MinConns is how many connections the pool keeps open when idle. Zero means none.
	MinConns int `json:"minConns"`
	// Schema is the PostgreSQL schema holding the tables; it is created if missing. Empty means
	// "opstream". Lower-case letters, digits and underscores, starting with a letter or
	// underscore, at most 63 bytes.
	Schema string `json:"schema"`
}

// Defaults applied by parseConfig.
const (
	defaultMaxConns = 10
	defaultSchema   = "opstream"
)

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

const configKeys = "keys: dsn, dsnEnv, maxConns, minConns, schema"

const configExample = `e.g. {"dsn": "postgres://opstream@localhost:5432/opstream"} or {"dsnEnv": "OPSTREAM_PG_DSN"}`

// parseConfig decodes raw strictly, resolves DSNEnv and applies defaults.
func parseConfig(raw []byte) (Config, error) {
	var cfg Config
	if len(bytes.TrimSpace(raw)) == 0 {
		return cfg, errors.New(`postgres config: "dsn" or "dsnEnv" is required, ` + configExample)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("postgres config: %w (%s)", err, configKeys)
	}
	if dec.More() {
		return cfg, errors.New("postgres config: trailing data after the JSON object")
	}
	switch {
	case cfg.DSN != "" && cfg.DSNEnv != "":
		return cfg, errors.New(`postgres config: give "dsn" or "dsnEnv", not both`)
	case cfg.DSNEnv != "":
		cfg.DSN = os.Getenv(cfg.DSNEnv)
		if cfg.DSN == "" {
			return cfg, fmt.Errorf(`postgres config: "dsnEnv" names %s, which is not set or empty: export it with the connection string`, cfg.DSNEnv)
		}
	case cfg.DSN == "":
		return cfg, errors.New(`postgres config: "dsn" or "dsnEnv" is required, ` + configExample)
	}
	switch {
	case cfg.MaxConns == 0:
		cfg.MaxConns = defaultMaxConns
	case cfg.MaxConns < 0 || cfg.MaxConns > 10_000:
		return cfg, fmt.Errorf("postgres config: maxConns %d: want 1..10000 (0 means %d)", cfg.MaxConns, defaultMaxConns)
	}
	if cfg.MinConns < 0 || cfg.MinConns > cfg.MaxConns {
		return cfg, fmt.Errorf("postgres config: minConns %d: want 0..maxConns (%d)", cfg.MinConns, cfg.MaxConns)
	}
	if cfg.Schema == "" {
		cfg.Schema = defaultSchema
	}
	if !schemaName.MatchString(cfg.Schema) {
		return cfg, fmt.Errorf("postgres config: schema %q: want lower-case letters, digits and _, starting with a letter or _, at most 63 bytes", cfg.Schema)
	}
	return cfg, nil
}
