// Package builtin embeds the WASM modules shipped inside the opstream binary: the allow-all
// authorizer and the text engine, so a server runs with zero configuration. `make build` compiles
// them into wasm/ before building the binary.
package builtin

import (
	"embed"
	"fmt"
)

//go:embed all:wasm
var files embed.FS

// Names of the built-in modules.
const (
	AllowAll = "allow-all"
	Text     = "text"
)

// Module returns a built-in module's bytes.
func Module(name string) ([]byte, error) {
	b, err := files.ReadFile("wasm/" + name + ".wasm")
	if err != nil {
		return nil, fmt.Errorf("built-in module %q is missing from this binary (build with `make build`): %w", name, err)
	}
	return b, nil
}

// Has reports whether name is a built-in module name.
func Has(name string) bool { return name == AllowAll || name == Text }
