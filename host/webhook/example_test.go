package webhook_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/opstream/opstream/host/webhook"
)

// A receiver checks the signature over the raw body before decoding it, then deduplicates by
// the event id: deliveries are at least once.
func ExampleVerifyRequest() {
	secret := "the-endpoint-secret-from-config" // the endpoint's secret (secretEnv)
	var mu sync.Mutex
	seen := map[string]bool{} // a real receiver stores processed ids durably
	mux := http.NewServeMux()
	mux.HandleFunc("POST /hooks/opstream", func(w http.ResponseWriter, r *http.Request) {
		body, err := webhook.VerifyRequest(secret, r, webhook.DefaultTolerance)
		if err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized) // not retried
			return
		}
		var ev webhook.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		mu.Lock()
		if !seen[ev.ID] {
			seen[ev.ID] = true
			fmt.Println(ev.Type, ev.Doc, ev.FromRevision, ev.ToRevision)
		}
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent) // any 2xx; 5xx and 429 are retried
	})
	_ = http.ListenAndServe("127.0.0.1:8080", mux)
}

func ExampleVerify() {
	secret := "the-endpoint-secret-from-config"
	body := []byte(`{"id":"evt_1","type":"doc.deleted","tenant":"default","doc":"hello","revision":3}`)
	sent := time.Unix(1_800_000_000, 0)
	header := webhook.Sign(secret, sent, body) // what OpStream puts in OpStream-Signature

	fmt.Println(webhook.Verify(secret, header, body, 0, sent.Add(time.Minute)))
	fmt.Println(webhook.Verify(secret, header, []byte(`{"id":"evt_1","tampered":true}`), 0, sent))
	fmt.Println(webhook.Verify(secret, header, body, 0, sent.Add(time.Hour)))
	// Output:
	// <nil>
	// webhook: signature does not match
	// webhook: signature timestamp outside the tolerance: signed 1h0m0s ago
}
