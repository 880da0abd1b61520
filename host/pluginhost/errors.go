package pluginhost

import (
	"errors"
	"fmt"
)

// Sentinel errors callers branch on with errors.Is.
var (
	// ErrBadModule reports a module refused at load: a forbidden import, a missing export, a
	// wrong ABI version, a bad manifest or a failing probe. The wrapped message says which.
	ErrBadModule = errors.New("bad module")
	// ErrWrongRole reports a module used in a role its manifest does not declare. It is always
	// wrapped together with ErrBadModule.
	ErrWrongRole = errors.New("wrong module role")
	// ErrRejected reports a status-1 result: the guest found the input invalid (an engine's
	// invalid op, an authorizer's malformed request or bad config). The instance stays usable.
	ErrRejected = errors.New("rejected by module")
	// ErrGuest reports a status-2 result: the module failed cleanly. The instance stays usable.
	ErrGuest = errors.New("module error")
	// ErrTrap reports a guest that trapped (panic, unreachable, out of memory, exit) or broke
	// the ABI (a result out of bounds). The instance was thrown away.
	ErrTrap = errors.New("module trapped")
	// ErrDeadline reports a call cut by its deadline. The instance was thrown away.
	ErrDeadline = errors.New("module call deadline exceeded")
	// ErrOutputTooLarge reports a result longer than the configured bound. The instance was
	// thrown away, since its state no longer matches what the host saw.
	ErrOutputTooLarge = errors.New("module output too large")
	// ErrInstanceLost reports a live document whose instance was thrown away (after a trap or
	// a deadline on any call into that instance). Reload the document from storage and Open
	// it again.
	ErrInstanceLost = errors.New("module instance lost")
	// ErrUnsupported reports a call to an optional export the module does not declare.
	ErrUnsupported = errors.New("unsupported by module")
	// ErrClosed reports a call on a closed Engine, Authorizer, Doc, Module or Runtime.
	ErrClosed = errors.New("closed")
)

// GuestError is a clean failure reported by a module through its result status: 1 (rejected,
// matching ErrRejected) or 2 (guest error, matching ErrGuest). Message is the module's own
// UTF-8 message; it may be shown to the user that sent the input.
type GuestError struct {
	Status  byte
	Message string
}

// Error implements error.
func (e *GuestError) Error() string {
	switch e.Status {
	case 1:
		return fmt.Sprintf("rejected by module: %s", e.Message)
	case 2:
		return fmt.Sprintf("module error: %s", e.Message)
	}
	return fmt.Sprintf("module status %d: %s", e.Status, e.Message)
}

// Is makes errors.Is(err, ErrRejected) and errors.Is(err, ErrGuest) work.
func (e *GuestError) Is(target error) bool {
	switch target {
	case ErrRejected:
		return e.Status == 1
	case ErrGuest:
		return e.Status == 2
	}
	return false
}
