package storage

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestErrorsRoundTrip(t *testing.T) {
	t.Parallel()
	for _, sentinel := range []error{ErrConflict, ErrFenced, ErrNotFound, ErrUnavailable, ErrInvalid} {
		t.Run(sentinel.Error(), func(t *testing.T) {
			wrapped := fmt.Errorf("append acme/doc: %w", sentinel)
			got := fromStatus(context.Background(), toStatus(wrapped))
			if !errors.Is(got, sentinel) || got.Error() != wrapped.Error() {
				t.Errorf("status round trip: %v", got)
			}
			got = fromCode(toCode(wrapped), wrapped.Error())
			if !errors.Is(got, sentinel) || got.Error() != wrapped.Error() {
				t.Errorf("code round trip: %v", got)
			}
		})
	}
	if err := fromCode(toCode(nil), ""); err != nil {
		t.Errorf("nil round trip: %v", err)
	}
	other := fromStatus(context.Background(), toStatus(errors.New("disk on fire")))
	if other == nil || other.Error() != "disk on fire" {
		t.Errorf("plain error: %v", other)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := fromStatus(ctx, status.Error(codes.Canceled, "x")); !errors.Is(err, context.Canceled) {
		t.Errorf("own cancellation: %v", err)
	}
	if err := fromStatus(context.Background(), status.Error(codes.Canceled, "conn closing")); !errors.Is(err, ErrUnavailable) {
		t.Errorf("connection closed under us: %v", err)
	}
}
