package jwt

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opstream/opstream/host/pluginhost"
	"github.com/opstream/opstream/pluginsdk/authorizer"
)

// benchSetup returns a config with a key of each algorithm and a valid token for each.
func benchSetup(tb testing.TB) (config []byte, tokens map[string]string) {
	tb.Helper()
	testKeys(tb)
	config = mustJSON(tb, map[string]any{
		"hs256Secret": testSecret,
		"publicKeys":  []string{pemOf(tb, &rsaKey.PublicKey), pemOf(tb, &ecKey.PublicKey)},
		"issuer":      "https://id.example",
		"audience":    "opstream",
	})
	claims := map[string]any{
		"iss": "https://id.example", "aud": []string{"opstream"}, "sub": "ann", "tenant": "acme",
		"exp": now/1000 + 600, "iat": now / 1000,
		"docs": map[string]string{"notes-*": "write", "*": "read"},
	}
	tokens = map[string]string{
		HS256: sign(tb, HS256, "", claims, []byte(testSecret)),
		RS256: sign(tb, RS256, "", claims, rsaKey),
		ES256: sign(tb, ES256, "", claims, ecKey),
	}
	return config, tokens
}

func BenchmarkDecide(b *testing.B) {
	config, tokens := benchSetup(b)
	v, err := Parse(config)
	if err != nil {
		b.Fatal(err)
	}
	for _, alg := range []string{HS256, RS256, ES256} {
		b.Run(alg, func(b *testing.B) {
			req := authorizer.Request{Action: "join", DocID: "notes-1", Token: tokens[alg], NowUnixMillis: now}
			b.ReportAllocs()
			for b.Loop() {
				if d := v.Decide(req); d.Access != authorizer.AccessWrite {
					b.Fatalf("%+v", d)
				}
			}
		})
	}
}

var (
	guestOnce sync.Once
	guestWasm []byte
	guestErr  error
)

// guest builds the WASM module (./wasm) once per process.
func guest(tb testing.TB) []byte {
	tb.Helper()
	guestOnce.Do(func() {
		dir, err := os.MkdirTemp("", "jwt-wasm-")
		if err != nil {
			guestErr = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "jwt.wasm")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s", "-o", out, "./wasm")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if b, err := cmd.CombinedOutput(); err != nil {
			guestErr = &buildError{err: err, out: string(b)}
			return
		}
		guestWasm, guestErr = os.ReadFile(out)
	})
	if guestErr != nil {
		tb.Fatalf("build the jwt module: %v", guestErr)
	}
	return guestWasm
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// wasmAuthorizer compiles the module on a new runtime and makes a one-instance pool.
func wasmAuthorizer(tb testing.TB, trusted bool, config []byte) (*pluginhost.Authorizer, error) {
	tb.Helper()
	ctx := context.Background()
	cache := filepath.Join(os.TempDir(), "opstream-jwt-test-wazero")
	if ucd, err := os.UserCacheDir(); err == nil {
		cache = filepath.Join(ucd, "opstream", "jwt-test-wazero")
	}
	rt, err := pluginhost.NewRuntime(ctx, pluginhost.RuntimeConfig{CacheDir: cache, Trusted: trusted})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = rt.Close(ctx) })
	mod, err := rt.Compile(ctx, "jwt", guest(tb))
	if err != nil {
		tb.Fatal(err)
	}
	if m := mod.Manifest(); m.Name != "jwt" || m.Version != "1.0.0" || m.Role != "authorizer" {
		tb.Fatalf("manifest %+v", m)
	}
	a, err := pluginhost.NewAuthorizer(ctx, mod, config, pluginhost.AuthorizerConfig{Instances: 1, CallTimeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	tb.Cleanup(func() { _ = a.Close(ctx) })
	return a, nil
}

func TestWASM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the WASM module")
	}
	config, tokens := benchSetup(t)
	a, err := wasmAuthorizer(t, false, config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for alg, tok := range tokens {
		d, err := a.Authorize(ctx, pluginhost.Request{Action: "join", DocID: "notes-1", Token: tok, NowUnixMillis: now})
		if err != nil || d.Access != "write" || d.Tenant != "acme" || d.Subject != "ann" || d.ExpiresAtUnixMillis != (now/1000+600)*1000 {
			t.Errorf("%s: %+v, %v", alg, d, err)
		}
		d, err = a.Authorize(ctx, pluginhost.Request{Action: "join", DocID: "notes-1", Token: tok, NowUnixMillis: now + 3600_000})
		if err != nil || d.Access != "none" || d.Reason != ReasonExpired {
			t.Errorf("%s expired: %+v, %v", alg, d, err)
		}
		// Refusals found by the host function (crypto_verify_jws) keep their reasons.
		dot := strings.LastIndexByte(tok, '.')
		for _, bad := range []struct{ name, tok, reason string }{
			{"tampered", tamper(tok), ReasonBadSignature},
			{"signature not base64url", tok[:dot] + ".!!" + tok[dot+1:], "signature is not base64url"},
			{"signature padded", tok + "=", "signature is not base64url"},
			{"four parts", tok[:dot] + ".e30" + tok[dot:], "want three dot-separated parts"},
			{"two parts", tok[:dot], "want three dot-separated parts"},
			{"other token's signature", tok[:dot] + tokens[HS256][strings.LastIndexByte(tokens[HS256], '.'):], ReasonBadSignature},
		} {
			if bad.name == "other token's signature" && alg == HS256 {
				continue
			}
			d, err := a.Authorize(ctx, pluginhost.Request{Action: "join", DocID: "notes-1", Token: bad.tok, NowUnixMillis: now})
			if err != nil || d.Access != "none" || !strings.Contains(d.Reason, bad.reason) {
				t.Errorf("%s %s: %+v, %v; want reason %q", alg, bad.name, d, err, bad.reason)
			}
		}
	}
	if _, err := wasmAuthorizer(t, false, []byte(`{"hs256Secret":"`+testSecret+`","bogus":1}`)); err == nil {
		t.Error("module accepted a config with an unknown key")
	} else {
		t.Logf("bad config refused: %v", err)
	}
}

func BenchmarkWASM(b *testing.B) {
	config, tokens := benchSetup(b)
	for _, mode := range []struct {
		name    string
		trusted bool
	}{{"sandboxed", false}, {"trusted", true}} {
		a, err := wasmAuthorizer(b, mode.trusted, config)
		if err != nil {
			b.Fatal(err)
		}
		for _, alg := range []string{HS256, RS256, ES256} {
			b.Run(mode.name+"/"+alg, func(b *testing.B) {
				ctx := context.Background()
				req := pluginhost.Request{Action: "join", DocID: "notes-1", Token: tokens[alg], NowUnixMillis: now}
				b.ReportAllocs()
				cpu := threadCPU(b)
				for b.Loop() {
					if d, err := a.Authorize(ctx, req); err != nil || d.Access != authorizer.AccessWrite {
						b.Fatalf("%+v, %v", d, err)
					}
				}
				cpu()
			})
		}
	}
}

// BenchmarkWASMRefusal measures a call that refuses before any crypto (no token, a token of a
// disallowed algorithm): the boundary's fixed cost and the header parse.
func BenchmarkWASMRefusal(b *testing.B) {
	config, _ := benchSetup(b)
	toks := []struct{ name, tok string }{{"noToken", ""}, {"algHS512", sign(b, "HS512", "", map[string]any{}, []byte(testSecret))}}
	for _, mode := range []struct {
		name    string
		trusted bool
	}{{"sandboxed", false}, {"trusted", true}} {
		a, err := wasmAuthorizer(b, mode.trusted, config)
		if err != nil {
			b.Fatal(err)
		}
		for _, tt := range toks {
			b.Run(mode.name+"/"+tt.name, func(b *testing.B) {
				ctx := context.Background()
				req := pluginhost.Request{Action: "join", DocID: "notes-1", Token: tt.tok, NowUnixMillis: now}
				b.ReportAllocs()
				cpu := threadCPU(b)
				for b.Loop() {
					if d, err := a.Authorize(ctx, req); err != nil || d.Access != authorizer.AccessNone {
						b.Fatalf("%+v, %v", d, err)
					}
				}
				cpu()
			})
		}
	}
}
