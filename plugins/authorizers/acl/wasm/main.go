//go:build wasip1

// Command wasm is the acl authorizer module (see package acl). Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o bin/plugins/acl.wasm ./plugins/authorizers/acl/wasm
package main

import (
	"github.com/opstream/opstream/plugins/authorizers/acl"
	"github.com/opstream/opstream/pluginsdk/authorizer"
	"github.com/opstream/opstream/pluginsdk/wasm"
)

func init() { authorizer.Register(&module{}) }

func main() {}

type module struct{ acl *acl.ACL }

func (*module) Manifest() wasm.Manifest { return wasm.Manifest{Name: "acl", Version: "1.0.0"} }

func (m *module) Init(config []byte) error {
	a, err := acl.Parse(config)
	if err != nil {
		return authorizer.Invalid("%v", err)
	}
	m.acl = a
	return nil
}

func (m *module) Authorize(req authorizer.Request) (authorizer.Decision, error) {
	return m.acl.Decide(req), nil
}
