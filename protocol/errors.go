package protocol

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is a stable error code, the same over WebSocket and HTTP.
type Code string

// Error codes. They never change meaning; new ones may be added.
const (
	CodeUnsupportedProtocol Code = "UnsupportedProtocol"
	CodeForbidden           Code = "Forbidden"
	CodeInvalidOp           Code = "InvalidOp"
	CodeInvalidMessage      Code = "InvalidMessage"
	CodeUnknownDocType      Code = "UnknownDocType"
	CodeDocTypeMismatch     Code = "DocTypeMismatch"
	CodeTooLarge            Code = "TooLarge"
	CodeRateLimited         Code = "RateLimited"
	CodeUnavailable         Code = "Unavailable"
	CodeInternal            Code = "Internal"
	CodeNotFound            Code = "NotFound"
	CodeNotJoined           Code = "NotJoined"
	CodeSlowConsumer        Code = "SlowConsumer"
	CodeUnauthenticated     Code = "Unauthenticated"
)

// HTTPStatus maps a code to the HTTP status the REST API answers with.
func (c Code) HTTPStatus() int {
	switch c {
	case CodeInvalidOp, CodeInvalidMessage, CodeUnsupportedProtocol, CodeUnknownDocType, CodeNotJoined:
		return http.StatusBadRequest
	case CodeUnauthenticated:
		return http.StatusUnauthorized
	case CodeForbidden:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeDocTypeMismatch:
		return http.StatusConflict
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeRateLimited:
		return http.StatusTooManyRequests
	case CodeUnavailable, CodeSlowConsumer:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// Error is an error with a wire code. Host packages return it (or wrap it) for every refusal a
// client should see; the one place that writes errors to the wire maps any other error to
// Internal.
type Error struct {
	Code    Code
	Message string
}

// Error implements error.
func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf returns an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError finds the *Error in err's chain; errors without one become Internal with a generic
// message (internal details stay in the server's log).
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternal, Message: "internal error"}
}
