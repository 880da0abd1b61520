package acl

import (
	"testing"

	"github.com/opstream/opstream/pluginsdk/authorizer"
)

func TestDecide(t *testing.T) {
	a, err := Parse([]byte(`{
		"tokens": {
			"ann-token": {"subject": "ann", "groups": ["team-a"], "tenant": "acme"},
			"bob-token": {"subject": "bob", "tenant": "acme"},
			"old": {"subject": "old", "expiresAtUnixMillis": 1000}
		},
		"rules": [
			{"doc": "notes-*", "group": "team-a", "access": "write"},
			{"doc": "*", "subject": "bob", "access": "read"},
			{"doc": "*", "subject": "old", "access": "write"}
		]
	}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, token, doc, access, tenant string
		now                              int64
	}{
		{"group write", "ann-token", "notes-1", "write", "acme", 0},
		{"no rule", "ann-token", "secret", "none", "", 0},
		{"read only", "bob-token", "notes-1", "read", "acme", 0},
		{"unknown token", "mallory", "notes-1", "none", "", 0},
		{"no token", "", "notes-1", "none", "", 0},
		{"expired", "old", "x", "none", "", 2000},
		{"not yet expired", "old", "x", "write", "", 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := a.Decide(authorizer.Request{Token: tt.token, DocID: tt.doc, NowUnixMillis: tt.now})
			if d.Access != tt.access || (tt.access != "none" && d.Tenant != tt.tenant) {
				t.Fatalf("got %+v, want %s in %q", d, tt.access, tt.tenant)
			}
		})
	}
}

func TestParseRefusesBadConfig(t *testing.T) {
	for _, bad := range []string{
		`{"rulez": []}`,
		`{"rules": [{"doc": "[", "subject": "a", "access": "read"}]}`,
		`{"rules": [{"doc": "*", "access": "read"}]}`,
		`{"rules": [{"doc": "*", "subject": "a", "access": "admin"}]}`,
	} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}
