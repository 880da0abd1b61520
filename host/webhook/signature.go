package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers of a delivery.
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256>".
	SignatureHeader = "OpStream-Signature"
	// IdempotencyHeader carries the event id, the same on every retry.
	IdempotencyHeader = "Idempotency-Key"
	// EventHeader carries the event type.
	EventHeader = "OpStream-Event"
	// AttemptHeader carries the attempt number, from 1.
	AttemptHeader = "OpStream-Attempt"
)

// DefaultTolerance is how far a signature's timestamp may be from the receiver's clock.
const DefaultTolerance = 5 * time.Minute

// Verification errors.
var (
	ErrNoSignature        = errors.New("webhook: no OpStream-Signature header")
	ErrMalformedSignature = errors.New("webhook: malformed OpStream-Signature header")
	ErrSignatureMismatch  = errors.New("webhook: signature does not match")
	ErrTimestampTolerance = errors.New("webhook: signature timestamp outside the tolerance")
)

// Sign returns the OpStream-Signature header value for body sent at t:
// "t=<unix seconds>,v1=<hex of HMAC-SHA256(secret, "<unix seconds>.<body>")>".
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a delivery's OpStream-Signature header against its raw body (the bytes as
// received, before any JSON decoding) and secret: the HMAC-SHA256 of "<t>.<body>" must equal
// one of the v1 values (compared in constant time), and t must be within tolerance of now
// (zero tolerance means DefaultTolerance), which stops replays of old deliveries. Retries are
// signed afresh, so a retried event still verifies. In other languages:
//
//	expected = hex(hmac_sha256(secret, t + "." + raw_body))
//	accept if any v1 == expected and |now - t| <= 300s
func Verify(secret, header string, body []byte, tolerance time.Duration, now time.Time) error {
	if header == "" {
		return ErrNoSignature
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrMalformedSignature
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			s, err := hex.DecodeString(v)
			if err != nil {
				return fmt.Errorf("%w: v1 is not hex", ErrMalformedSignature)
			}
			sigs = append(sigs, s)
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("%w: want t=<unix seconds>,v1=<hex>", ErrMalformedSignature)
	}
	switch d := now.Sub(time.Unix(unix, 0)); {
	case d > tolerance:
		return fmt.Errorf("%w: signed %s ago", ErrTimestampTolerance, d.Round(time.Second))
	case d < -tolerance:
		return fmt.Errorf("%w: signed %s in the future (check the clocks)", ErrTimestampTolerance, (-d).Round(time.Second))
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrSignatureMismatch
}

// maxBody bounds the body VerifyRequest reads; events are a few hundred bytes.
const maxBody = 1 << 20

// VerifyRequest reads r's body (at most 1 MiB) and verifies its signature with Verify at the
// current time. It returns the body to decode into an Event when the signature is good.
func VerifyRequest(secret string, r *http.Request, tolerance time.Duration) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read webhook body: %w", err)
	}
	if len(body) > maxBody {
		return nil, fmt.Errorf("webhook body over %d bytes", maxBody)
	}
	if err := Verify(secret, r.Header.Get(SignatureHeader), body, tolerance, time.Now()); err != nil {
		return nil, err
	}
	return body, nil
}
