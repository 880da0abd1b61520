package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opstream/opstream/protocol"
)

// aclServer starts a server whose authorizer is the shipped acl module: ann writes notes-*,
// bob only reads, carol writes notes-* in another tenant.
func aclServer(t *testing.T) *server {
	t.Helper()
	module, err := filepath.Abs(filepath.Join(filepath.Dir(binPath), "plugins", "acl.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(module); err != nil {
		t.Fatalf("acl module missing (make build): %v", err)
	}
	cfg := filepath.Join(t.TempDir(), "opstream.yaml")
	yaml := `plugins:
  authorizer:
    module: ` + module + `
    config:
      tokens:
        ann: {subject: ann, groups: [team], tenant: acme}
        bob: {subject: bob, tenant: acme}
        carol: {subject: carol, groups: [team], tenant: globex}
      rules:
        - {doc: "notes-*", group: team, access: write}
        - {doc: "*", subject: bob, access: read}
`
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return startServer(t, "", "--config", cfg)
}

func TestReadOnlyPeerAndAuthorizer(t *testing.T) {
	s := aclServer(t)
	if strings.Contains(s.log.String(), "DEVELOPMENT DEFAULT") {
		t.Fatal("development-default warning logged although an authorizer and SQLite are configured")
	}
	ann, bob := dialRaw(t, s, "ann"), dialRaw(t, s, "bob")
	ann.send(`{"type":"join","ref":1,"doc":"notes-1","docType":"text","protocol":1}`)
	if m := ann.next(byRef(1)); m.Type != "joined" || m.Access != "write" {
		t.Fatalf("ann join: %+v", m)
	}
	bob.send(`{"type":"join","ref":1,"doc":"notes-1","docType":"text","protocol":1}`)
	if m := bob.next(byRef(1)); m.Type != "joined" || m.Access != "read" {
		t.Fatalf("bob join: %+v", m)
	}
	bob.send(`{"type":"submit","ref":2,"doc":"notes-1","baseRevision":0,"op":["bob was here"],"clientId":"bob","seq":1}`)
	if m := bob.next(byRef(2)); m.Type != "error" || m.Code != protocol.CodeForbidden {
		t.Fatalf("read-only submit: %+v", m)
	}
	ann.send(`{"type":"submit","ref":2,"doc":"notes-1","baseRevision":0,"op":["hi"],"clientId":"ann","seq":1}`)
	if m := ann.next(byRef(2)); m.Type != "ack" {
		t.Fatalf("ann submit: %+v", m)
	}
	if m := bob.next(byType("op")); string(m.Op) != `["hi"]` || *m.Revision != 1 {
		t.Fatalf("read-only peer did not see the op: %+v", m)
	}
	// Awareness needs only read.
	bob.send(`{"type":"awareness","doc":"notes-1","state":{"name":"bob"}}`)
	if m := ann.next(byType("awareness")); string(m.State) != `{"name":"bob"}` {
		t.Fatalf("awareness from a reader: %+v", m)
	}
	mallory := dialRaw(t, s, "mallory")
	mallory.send(`{"type":"join","ref":1,"doc":"notes-1","docType":"text","protocol":1}`)
	if m := mallory.next(byRef(1)); m.Type != "error" || m.Code != protocol.CodeForbidden {
		t.Fatalf("unknown token join: %+v", m)
	}
	ann.send(`{"type":"join","ref":3,"doc":"private","docType":"text","protocol":1}`)
	if m := ann.next(byRef(3)); m.Code != protocol.CodeForbidden {
		t.Fatalf("join without a rule: %+v", m)
	}

	// HTTP is guarded too.
	body := map[string]any{"type": "text", "baseRevision": 1, "op": []any{"x"}, "clientId": "bob", "seq": 1}
	var r submitResp
	if code := httpJSONAuth(t, "POST", s.url("/v1/docs/notes-1/ops"), "bob", body, &r); code != 403 || r.Error.Code != "Forbidden" {
		t.Fatalf("read-only POST: %d %+v", code, r.Error)
	}
	var d docResp
	if code := httpJSONAuth(t, "GET", s.url("/v1/docs/notes-1"), "bob", nil, &d); code != 200 || string(d.Snapshot) != `"hi"` {
		t.Fatalf("read-only GET: %d %+v", code, d)
	}
	if code := httpJSONAuth(t, "GET", s.url("/v1/docs/notes-1"), "", nil, nil); code != 403 {
		t.Fatalf("GET without a token: %d", code)
	}
}

func TestTenantsSeparateDocuments(t *testing.T) {
	s := aclServer(t)
	for _, w := range []struct{ token, text string }{{"ann", "acme"}, {"carol", "globex"}} {
		body := map[string]any{"type": "text", "baseRevision": 0, "op": []any{w.text}, "clientId": w.token, "seq": 1}
		var r submitResp
		if code := httpJSONAuth(t, "POST", s.url("/v1/docs/notes-shared/ops"), w.token, body, &r); code != 200 || r.Revision != 1 {
			t.Fatalf("%s POST: %d %+v", w.token, code, r)
		}
	}
	for _, w := range []struct{ token, text string }{{"ann", "acme"}, {"carol", "globex"}} {
		var d docResp
		if code := httpJSONAuth(t, "GET", s.url("/v1/docs/notes-shared"), w.token, nil, &d); code != 200 || string(d.Snapshot) != `"`+w.text+`"` || d.Revision != 1 {
			t.Fatalf("%s sees %d %s rev %d", w.token, code, d.Snapshot, d.Revision)
		}
	}
}

func TestFreshTokenOnAnOpenConnection(t *testing.T) {
	s := aclServer(t)
	c := dialRaw(t, s, "bob") // read only
	c.send(`{"type":"join","ref":1,"doc":"notes-2","docType":"text","protocol":1}`)
	if m := c.next(byRef(1)); m.Access != "read" {
		t.Fatalf("join: %+v", m)
	}
	c.send(`{"type":"submit","ref":2,"doc":"notes-2","baseRevision":0,"op":["x"],"clientId":"c","seq":1}`)
	if m := c.next(byRef(2)); m.Code != protocol.CodeForbidden {
		t.Fatalf("read-only submit: %+v", m)
	}
	// A fresh token without reconnecting: decisions are taken again with it.
	c.send(`{"type":"auth","ref":3,"token":"ann"}`)
	if m := c.next(byRef(3)); m.Type != "authed" {
		t.Fatalf("auth: %+v", m)
	}
	c.send(`{"type":"submit","ref":4,"doc":"notes-2","baseRevision":0,"op":["x"],"clientId":"c","seq":2}`)
	if m := c.next(byRef(4)); m.Type != "ack" {
		t.Fatalf("submit with the fresh token: %+v", m)
	}
}
