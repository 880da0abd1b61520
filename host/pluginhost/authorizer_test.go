package pluginhost

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func newTestAuthorizer(t testing.TB, config string, cfg AuthorizerConfig) *Authorizer {
	t.Helper()
	a, err := NewAuthorizer(context.Background(), module(t, "authorizer"), []byte(config), cfg)
	if err != nil {
		t.Fatalf("new authorizer: %v", err)
	}
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	return a
}

func TestAuthorizer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	stop := healthy(t)
	defer stop()
	a := newTestAuthorizer(t, "", AuthorizerConfig{Instances: 2, CallTimeout: 300 * time.Millisecond})
	tests := []struct {
		token   string
		want    Decision
		wantErr error
	}{
		{"w", Decision{Access: AccessWrite, Tenant: "acme", Subject: "ann", ExpiresAtUnixMillis: 42}, nil},
		{"r", Decision{Access: AccessRead, Subject: "anon"}, nil},
		{"loop", Decision{Access: AccessNone}, ErrDeadline},
		{"panic", Decision{Access: AccessNone}, ErrTrap},
		{"garbage", Decision{Access: AccessNone}, ErrGuest},
		{"w", Decision{Access: AccessWrite, Tenant: "acme", Subject: "ann", ExpiresAtUnixMillis: 42}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			got, err := a.Authorize(ctx, Request{Action: "join", DocID: "d1", Token: tt.token,
				Headers: map[string]string{"x-user": "ann"}, NowUnixMillis: 1})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("err = %v; want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("decision = %+v; want %+v", got, tt.want)
			}
		})
	}
	// After the traps, every instance still answers.
	for range 4 {
		if d, err := a.Authorize(ctx, Request{Action: "read", Token: "w"}); err != nil || d.Access != AccessWrite {
			t.Errorf("after traps: %+v, %v", d, err)
		}
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if d, err := a.Authorize(ctx, Request{Token: "w"}); !errors.Is(err, ErrClosed) || d.Access != AccessNone {
		t.Errorf("after Close: %+v, %v; want none, ErrClosed", d, err)
	}
}

func TestAuthorizerConfig(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, err := NewAuthorizer(ctx, module(t, "authorizer"), []byte(`{"bad":1}`), AuthorizerConfig{Instances: 2})
	var ge *GuestError
	if !errors.Is(err, ErrRejected) || !errors.As(err, &ge) || !strings.Contains(ge.Message, `unknown key "bad"`) {
		t.Errorf("bad config: %v; want ErrRejected with the module's message", err)
	}
	a := newTestAuthorizer(t, `{"deny":true}`, AuthorizerConfig{Instances: 1})
	if d, err := a.Authorize(ctx, Request{Token: "w"}); err != nil || d.Access != AccessNone || d.Reason != "denied by config" {
		t.Errorf("deny config: %+v, %v", d, err)
	}
}
