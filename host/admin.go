package host

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/opstream/opstream/host/auth"
	"github.com/opstream/opstream/host/httpapi"
	"github.com/opstream/opstream/pluginsdk/storage"
	"github.com/opstream/opstream/protocol"
)

// ActionAdmin is the action a management authorizer module (plugins.management) is asked
// about for every management API request. The decision's access "read" allows listing and
// diagnostics, "write" also deletion; a decision naming a tenant limits the caller to it.
const ActionAdmin = "admin"

var _ httpapi.Admin = (*Server)(nil)

// AuthorizeAdmin implements httpapi.Admin. It denies everything unless admin.token matches the
// bearer token (compared in constant time) or the management authorizer module allows it.
func (s *Server) AuthorizeAdmin(ctx context.Context, creds auth.Credentials, tenant, docID string, write bool) error {
	if s.cfg.Admin.Token == "" && s.mgmt == nil {
		return protocol.Errorf(protocol.CodeForbidden, "the management API is closed: set admin.token (or admin.tokenEnv) or plugins.management")
	}
	if creds.Token == "" && len(creds.Headers) == 0 {
		return protocol.Errorf(protocol.CodeUnauthenticated, "the management API needs a credential: Authorization: Bearer <admin token>")
	}
	if s.cfg.Admin.Token != "" && subtle.ConstantTimeCompare([]byte(creds.Token), []byte(s.cfg.Admin.Token)) == 1 {
		return nil
	}
	if s.mgmt == nil {
		return protocol.Errorf(protocol.CodeForbidden, "not an admin credential")
	}
	d, err := s.mgmt.Authorize(ctx, auth.Request{Action: ActionAdmin, DocID: docID, Creds: creds, Now: time.Now()})
	if err != nil {
		s.log.Warn("management authorizer failed; request denied", "err", err)
		return protocol.Errorf(protocol.CodeForbidden, "the management authorizer failed; denied")
	}
	need := auth.Read
	if write {
		need = auth.Write
	}
	if d.Access < need {
		reason := d.Reason
		if reason == "" {
			reason = "not granted"
		}
		return protocol.Errorf(protocol.CodeForbidden, "%s access to the management API: %s", need, reason)
	}
	if d.Tenant != "" && d.Tenant != tenant {
		return protocol.Errorf(protocol.CodeForbidden, "this credential manages tenant %q only", d.Tenant)
	}
	return nil
}

// ListDocs implements httpapi.Admin.
func (s *Server) ListDocs(ctx context.Context, tenant, after string, limit int) ([]storage.DocInfo, error) {
	res, err := s.store.List(ctx, &storage.ListRequest{Tenant: tenant, After: after, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("list documents of %s: %w", tenant, err)
	}
	return res.Docs, nil
}

// DiagDoc implements httpapi.Admin: the live state when the document is loaded on this node,
// else what storage holds.
func (s *Server) DiagDoc(ctx context.Context, key storage.DocKey, lastOps int) (httpapi.DocDiag, error) {
	out := httpapi.DocDiag{Tenant: key.Tenant, ID: key.ID, Node: s.router.Self(), Peers: []string{}, Ops: []protocol.LogOp{},
		SnapshotAgeSeconds: -1}
	owner, err := s.bp.Lookup(ctx, key.String())
	if err != nil {
		return out, fmt.Errorf("look up the owner of %s: %w", key, err)
	}
	out.Owner = owner.Node
	g, err := s.docs.Diag(ctx, key, lastOps)
	if err != nil {
		return out, err
	}
	if g.Loaded && g.DocType != "" {
		out.Loaded, out.Type, out.Revision, out.Durable, out.Pending = true, g.DocType, g.Revision, g.Durable, g.Pending
		out.Peers = g.Peers
		out.SnapshotRevision = g.SnapshotRevision
		if g.SnapshotRevision > 0 {
			out.SnapshotAgeSeconds = time.Since(g.SnapshotAt).Seconds()
		}
		if g.Ops != nil {
			out.Ops = g.Ops
		}
		return out, nil
	}
	loaded, err := s.store.Load(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return out, protocol.Errorf(protocol.CodeNotFound, "no document %q in tenant %q", key.ID, key.Tenant)
	}
	if err != nil {
		return out, fmt.Errorf("load %s: %w", key, err)
	}
	out.Type, out.Revision = loaded.Info.Type, loaded.Info.Revision
	if sn := loaded.Snapshot; sn != nil {
		out.SnapshotRevision = sn.Revision
		if sn.UnixMillis > 0 {
			out.SnapshotAgeSeconds = time.Since(time.UnixMilli(sn.UnixMillis)).Seconds()
		}
	}
	if lastOps > 0 && out.Revision > 0 {
		from := max(1, out.Revision-int64(lastOps)+1)
		page, err := s.store.ReadOps(ctx, &storage.ReadOpsRequest{Doc: key, From: from, Limit: lastOps})
		if err != nil {
			return out, fmt.Errorf("read the last ops of %s: %w", key, err)
		}
		for _, op := range page.Ops {
			out.Ops = append(out.Ops, protocol.LogOp{Revision: op.Revision, Op: op.Data, ClientID: op.ClientID, Seq: op.Seq})
		}
	}
	return out, nil
}

// DeleteDoc implements httpapi.Admin: the document's peers (on its owner node, whichever it is) are dropped with a
// NotFound error saying an administrator deleted it, its actor stops, then storage deletes it
// and doc.deleted is raised.
func (s *Server) DeleteDoc(ctx context.Context, key storage.DocKey) (httpapi.DeleteResult, error) {
	out := httpapi.DeleteResult{Tenant: key.Tenant, ID: key.ID}
	g, err := s.docs.Diag(ctx, key, 0)
	if err != nil {
		return out, err
	}
	var rev int64
	if g.Loaded {
		rev = g.Revision
	}
	loaded, err := s.store.Load(ctx, key)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		if !g.Loaded || g.Revision == 0 {
			return out, protocol.Errorf(protocol.CodeNotFound, "no document %q in tenant %q", key.ID, key.Tenant)
		}
	case err != nil:
		return out, fmt.Errorf("load %s: %w", key, err)
	default:
		rev = max(rev, loaded.Info.Revision)
	}
	reason := protocol.Errorf(protocol.CodeNotFound, "document %q was deleted by an administrator", key.ID)
	n, err := s.router.EvictWait(ctx, key, reason)
	if err != nil {
		return out, err
	}
	if err := s.store.Delete(ctx, key); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return out, fmt.Errorf("delete %s: %w", key, err)
	}
	// A peer that rejoined between the eviction and the delete loaded the old state: drop it
	// again (wherever the document lives) so it loads the now empty document.
	if _, err := s.router.EvictWait(ctx, key, reason); err != nil {
		s.log.Warn("second eviction after delete", "doc", key.String(), "err", err)
	}
	s.hooks.Deleted(key.Tenant, key.ID, rev)
	s.log.Info("document deleted by an administrator", "doc", key.String(), "revision", rev, "evictedPeers", n)
	out.Deleted, out.Revision, out.EvictedPeers = true, rev, n
	return out, nil
}
