package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/opstream/opstream/host/pluginhost"
)

const pluginUsage = `usage:
  opstream plugin inspect [--json] FILE.wasm
  opstream plugin check --samples FILE FILE.wasm`

// Plugin runs `opstream plugin inspect FILE.wasm` (load checks: ABI version, imports, exports,
// manifest; prints what it found) and `opstream plugin check` (see check). The exit status is
// non-zero, with the reason, when the module would be refused or fails its checks.
func Plugin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "check" {
		return check(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "inspect" {
		return errors.New(pluginUsage)
	}
	fs := flag.NewFlagSet("plugin inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: opstream plugin inspect [--json] FILE.wasm")
	}
	path := fs.Arg(0)
	bin, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read module: %w", err)
	}
	rt, err := pluginhost.NewRuntime(ctx, pluginhost.RuntimeConfig{CacheDir: cliCacheDir(), Logger: slog.New(slog.NewTextHandler(stderr, nil))})
	if err != nil {
		return err
	}
	defer rt.Close(context.WithoutCancel(ctx))
	info, loadErr := rt.Inspect(ctx, filepath.Base(path), bin)
	if *asJSON {
		out := map[string]any{"file": path, "size": info.Size, "abi": info.ABIVersion, "manifest": info.Manifest,
			"imports": info.Imports, "exports": info.Exports, "ok": loadErr == nil}
		if loadErr != nil {
			out["error"] = loadErr.Error()
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
	} else {
		fmt.Fprintf(stdout, "file:         %s (%d bytes)\n", path, info.Size)
		fmt.Fprintf(stdout, "role:         %s\n", info.Manifest.Role)
		fmt.Fprintf(stdout, "name:         %s %s\n", info.Manifest.Name, info.Manifest.Version)
		if info.Manifest.DocType != "" {
			fmt.Fprintf(stdout, "docType:      %s\n", info.Manifest.DocType)
		}
		fmt.Fprintf(stdout, "abi:          %d\n", info.ABIVersion)
		fmt.Fprintf(stdout, "capabilities: %s\n", strings.Join(info.Manifest.Capabilities, ", "))
		fmt.Fprintf(stdout, "exports:      %s\n", strings.Join(info.Exports, ", "))
		fmt.Fprintf(stdout, "imports:      %s\n", strings.Join(info.Imports, ", "))
	}
	if loadErr != nil {
		return fmt.Errorf("module refused: %w", loadErr)
	}
	return nil
}

// cliCacheDir is the wazero compilation cache the plugin commands share (compiling a Go guest
// takes seconds; from the cache, tens of milliseconds). Empty when there is no user cache dir.
func cliCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "opstream", "wasm-cache")
}
