//go:build wasip1

// Command allowall is OpStream's default authorizer: it grants write access to everyone, in the
// default tenant. For development only. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o bin/allowall.wasm ./plugins/authorizers/allowall
package main

import (
	"github.com/opstream/opstream/pluginsdk/authorizer"
	"github.com/opstream/opstream/pluginsdk/wasm"
)

func init() { authorizer.Register(allowAll{}) }

func main() {}

type allowAll struct{}

var _ authorizer.Authorizer = allowAll{}

func (allowAll) Manifest() wasm.Manifest {
	return wasm.Manifest{Name: "allowall", Version: "1.0.0"}
}

// Init accepts only an empty config ({} or null).
func (allowAll) Init(config []byte) error {
	s := string(config)
	switch trim(s) {
	case "", "{}", "null":
		return nil
	}
	return authorizer.Invalid("allowall takes no configuration, got %.64s", s)
}

func trim(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			out = append(out, c)
		}
	}
	return string(out)
}

func (allowAll) Authorize(authorizer.Request) (authorizer.Decision, error) {
	return authorizer.Decision{Access: authorizer.AccessWrite, Reason: "allow-all (development default)"}, nil
}
