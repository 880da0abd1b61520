//go:build wasip1

// Command wasm is the jwt authorizer module (see package jwt). Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o bin/plugins/jwt.wasm ./plugins/authorizers/jwt/wasm
package main

import (
	"github.com/opstream/opstream/plugins/authorizers/jwt"
	"github.com/opstream/opstream/pluginsdk/authorizer"
	"github.com/opstream/opstream/pluginsdk/wasm"
)

func init() { authorizer.Register(&module{}) }

func main() {}

type module struct{ v *jwt.Verifier }

func (*module) Manifest() wasm.Manifest { return wasm.Manifest{Name: "jwt", Version: "1.0.0"} }

func (m *module) Init(config []byte) error {
	v, err := jwt.Parse(config)
	if err != nil {
		return authorizer.Invalid("%v", err)
	}
	m.v = v
	return nil
}

func (m *module) Authorize(req authorizer.Request) (authorizer.Decision, error) {
	return m.v.Decide(req), nil
}
