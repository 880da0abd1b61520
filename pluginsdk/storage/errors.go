package storage

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/opstream/opstream/pluginsdk/storage/internal/storagepb"
)

// This file is the one place where storage errors are mapped to and from the wire: gRPC status
// codes for whole-call failures, storagepb.Code for per-append outcomes.

// remoteError is an error that crossed the plugin boundary: the provider's message, unwrapping
// to the sentinel its code names so errors.Is works on the host.
type remoteError struct {
	msg      string
	sentinel error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

// sentinelCodes pairs each sentinel with its per-append code and its gRPC status code.
var sentinelCodes = []struct {
	err  error
	code storagepb.Code
	grpc codes.Code
}{
	{ErrConflict, storagepb.Code_CODE_CONFLICT, codes.Aborted},
	{ErrFenced, storagepb.Code_CODE_FENCED, codes.FailedPrecondition},
	{ErrNotFound, storagepb.Code_CODE_NOT_FOUND, codes.NotFound},
	{ErrUnavailable, storagepb.Code_CODE_UNAVAILABLE, codes.Unavailable},
	{ErrInvalid, storagepb.Code_CODE_INVALID, codes.InvalidArgument},
}

// toCode maps a provider's per-append error to its wire code.
func toCode(err error) storagepb.Code {
	if err == nil {
		return storagepb.Code_CODE_OK
	}
	for _, s := range sentinelCodes {
		if errors.Is(err, s.err) {
			return s.code
		}
	}
	return storagepb.Code_CODE_INTERNAL
}

// fromCode rebuilds a per-append error on the host side.
func fromCode(code storagepb.Code, msg string) error {
	if code == storagepb.Code_CODE_OK {
		return nil
	}
	for _, s := range sentinelCodes {
		if s.code == code {
			return &remoteError{msg: msg, sentinel: s.err}
		}
	}
	return errors.New(msg)
}

// toStatus maps a provider's call error to a gRPC status error.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	for _, s := range sentinelCodes {
		if errors.Is(err, s.err) {
			return status.Error(s.grpc, err.Error())
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

// fromStatus maps an error returned by a gRPC call back to the storage sentinels. Transport
// failures (the subprocess died, the connection closed) become ErrUnavailable; the caller's own
// cancellation stays a context error.
func fromStatus(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &remoteError{msg: err.Error(), sentinel: ErrUnavailable}
	}
	for _, s := range sentinelCodes {
		if s.grpc == st.Code() {
			return &remoteError{msg: st.Message(), sentinel: s.err}
		}
	}
	switch st.Code() {
	case codes.Canceled, codes.DeadlineExceeded:
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if st.Code() == codes.DeadlineExceeded {
			return &remoteError{msg: st.Message(), sentinel: context.DeadlineExceeded}
		}
		// Canceled without our context being done: the connection was closed under us.
		return &remoteError{msg: st.Message(), sentinel: ErrUnavailable}
	}
	return errors.New(st.Message())
}
