//go:build wasip1

// Command swapauthz is a test authorizer for hot swaps: every token gets write access except
// the one named by readOnly (set at build time with -ldflags "-X main.readOnly=NAME"), which
// gets read access, as do requests without a token; the module's version is set the same way.
package main

import (
	"github.com/opstream/opstream/pluginsdk/authorizer"
	"github.com/opstream/opstream/pluginsdk/wasm"
)

var (
	readOnly = ""
	version  = "1.0.0"
)

func init() { authorizer.Register(swap{}) }

func main() {}

type swap struct{}

func (swap) Manifest() wasm.Manifest { return wasm.Manifest{Name: "swapauthz", Version: version} }

func (swap) Init([]byte) error { return nil }

func (swap) Authorize(r authorizer.Request) (authorizer.Decision, error) {
	if r.Token == "" {
		return authorizer.Decision{Access: authorizer.AccessRead, Reason: "anonymous readers"}, nil
	}
	if readOnly != "" && r.Token == readOnly {
		return authorizer.Decision{Access: authorizer.AccessRead, Subject: r.Token, Reason: "read-only in " + version}, nil
	}
	return authorizer.Decision{Access: authorizer.AccessWrite, Subject: r.Token, Reason: "writer in " + version}, nil
}
