package authorizer

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestRequestAndDecisionRoundTrip(t *testing.T) {
	req := Request{Action: "join", DocID: "d\"ü😀", Token: "t\\", Headers: map[string]string{"x-user": "ann\n"}, NowUnixMillis: 1795000000000}
	b := AppendRequest(nil, req)
	var viaJSON Request
	if err := json.Unmarshal(b, &viaJSON); err != nil || !reflect.DeepEqual(viaJSON, req) {
		t.Fatalf("encoding/json reads %s as %+v (%v)", b, viaJSON, err)
	}
	got, err := ParseRequest(b)
	if err != nil || !reflect.DeepEqual(got, req) {
		t.Fatalf("ParseRequest: %+v %v", got, err)
	}
	d := Decision{Access: "write", Tenant: "acme", Subject: "ann", Reason: "rule \"x\"", ExpiresAtUnixMillis: 42}
	back, err := ParseDecision(AppendDecision(nil, d))
	if err != nil || back != d {
		t.Fatalf("ParseDecision: %+v %v", back, err)
	}
	for _, bad := range []string{`not json`, `{"access":1}`, `{"access":"read"} x`, `{"expiresAtUnixMillis":"soon"}`} {
		if _, err := ParseDecision([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}
