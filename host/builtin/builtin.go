// Package builtin embeds the WASM modules shipped inside the opstream binary: the allow-all
// authorizer and the text engine, so a server runs with zero configuration. `make build` compiles
// them into wasm/ before building the binary, together with wasm/shipped.sha256: the checksums of
// every module the same build put in bin/plugins, which the server runs trusted (see Shipped).
package builtin

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"strings"
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

// Shipped reports whether bin is byte for byte a module this build of OpStream shipped (in
// bin/plugins), and its file name. The server runs shipped modules in the trusted runtime: they
// are the project's own code, as trusted as the server, and sandbox preemption costs Go guests
// about 20 µs per call and tight loops up to 30x. Any other module, including a modified copy
// of a shipped one, is sandboxed unless configured `trusted: true`.
func Shipped(bin []byte) (name string, ok bool) {
	list, err := files.ReadFile("wasm/shipped.sha256")
	if err != nil {
		return "", false
	}
	sum := sha256.Sum256(bin)
	want := hex.EncodeToString(sum[:])
	sc := bufio.NewScanner(bytes.NewReader(list))
	for sc.Scan() {
		// sha256sum format: "<hex>  <file>"
		hexSum, file, found := strings.Cut(sc.Text(), "  ")
		if found && hexSum == want {
			return file, true
		}
	}
	return "", false
}
