package authorizer

import "github.com/opstream/opstream/pluginsdk/wasm"

// Actions of a Request.
const (
	ActionJoin      = "join"
	ActionRead      = "read"
	ActionWrite     = "write"
	ActionAwareness = "awareness"
)

// Access levels of a Decision.
const (
	AccessNone  = "none"
	AccessRead  = "read"
	AccessWrite = "write"
)

// Request is what the host asks an authorizer (the input of authorize).
type Request struct {
	// Action is join, read, write or awareness (informational: the host enforces access).
	Action string `json:"action"`
	// DocID is the document's id.
	DocID string `json:"docId"`
	// Token is the client's credential, as given.
	Token string `json:"token"`
	// Headers holds only the headers the server is configured to pass.
	Headers map[string]string `json:"headers,omitempty"`
	// NowUnixMillis is the host's current time (the module has no wall clock).
	NowUnixMillis int64 `json:"nowUnixMillis"`
}

// Decision is an authorizer's answer (the payload of authorize).
type Decision struct {
	// Access is none, read or write.
	Access string `json:"access"`
	// Tenant picks the document namespace; empty means "default".
	Tenant string `json:"tenant,omitempty"`
	// Subject names who is acting, for logs and presence.
	Subject string `json:"subject,omitempty"`
	// Reason explains the decision, for logs.
	Reason string `json:"reason,omitempty"`
	// ExpiresAtUnixMillis, when not zero, bounds how long the host may cache the decision.
	ExpiresAtUnixMillis int64 `json:"expiresAtUnixMillis,omitempty"`
}

// Authorizer decides who may do what. What a plugin author implements.
//
// Methods are called one at a time. Init's error (made with Invalid for a bad config) refuses
// the module. Authorize's error fails the call (status 2) and the host denies: authorizers fail
// closed; a refusal is a Decision with Access "none", not an error.
type Authorizer interface {
	// Manifest describes the module; Role and ABI are filled in by Register.
	Manifest() wasm.Manifest
	// Init receives the module's config block, JSON ({} when none), once, before any Authorize.
	Init(config []byte) error
	// Authorize decides on one request.
	Authorize(Request) (Decision, error)
}
