package pluginhost

import (
	"context"
	"testing"
	"time"

	"github.com/opstream/opstream/pluginsdk/wasm"
)

func BenchmarkDocApply(b *testing.B) {
	ctx := context.Background()
	e := newTestEngine(b, EngineConfig{Instances: 1})
	d, err := e.Open(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	op := []byte("1")
	concurrent := [][]byte{[]byte("2")}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Apply(ctx, op, concurrent, wasm.SideLeft); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDocApplyParallel(b *testing.B) {
	ctx := context.Background()
	e := newTestEngine(b, EngineConfig{Instances: 2})
	op := []byte("1")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		d, err := e.Open(ctx, nil)
		if err != nil {
			b.Error(err)
			return
		}
		for pb.Next() {
			if _, err := d.Apply(ctx, op, nil, wasm.SideLeft); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkTransform(b *testing.B) {
	ctx := context.Background()
	e := newTestEngine(b, EngineConfig{Instances: 1})
	op := []byte("1")
	concurrent := [][]byte{[]byte("2"), []byte("3")}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Transform(ctx, op, concurrent, wasm.SideLeft); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAuthorize(b *testing.B) {
	ctx := context.Background()
	a := newTestAuthorizer(b, "", AuthorizerConfig{Instances: 1, CallTimeout: time.Second})
	req := Request{Action: "join", DocID: "notes-1", Token: "w", NowUnixMillis: 1795000000000}
	b.ReportAllocs()
	for b.Loop() {
		if d, err := a.Authorize(ctx, req); err != nil || d.Access != AccessWrite {
			b.Fatal(d, err)
		}
	}
}

func BenchmarkAuthorizeParallel(b *testing.B) {
	ctx := context.Background()
	a := newTestAuthorizer(b, "", AuthorizerConfig{Instances: 2, CallTimeout: time.Second})
	req := Request{Action: "join", DocID: "notes-1", Token: "w", NowUnixMillis: 1795000000000}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if d, err := a.Authorize(ctx, req); err != nil || d.Access != AccessWrite {
				b.Error(d, err)
				return
			}
		}
	})
}
