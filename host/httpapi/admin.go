package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/opstream/opstream/host/auth"
	"github.com/opstream/opstream/pluginsdk/storage"
	"github.com/opstream/opstream/protocol"
)

// Admin is what the management API (/v1/admin) needs from the server. Every request is
// authorized first; an implementation denies unless an administrator credential is configured
// (fail closed).
type Admin interface {
	// AuthorizeAdmin decides a management request on tenant's documents: nil allows it, a
	// *protocol.Error (Unauthenticated or Forbidden) refuses it. docID is "" for the list;
	// write is set for requests that change something (delete).
	AuthorizeAdmin(ctx context.Context, creds auth.Credentials, tenant, docID string, write bool) error
	// ListDocs returns one page of a tenant's stored documents, ordered by id, after after.
	ListDocs(ctx context.Context, tenant, after string, limit int) ([]storage.DocInfo, error)
	// DiagDoc reports what the server knows about a document, with its last lastOps ops.
	DiagDoc(ctx context.Context, key storage.DocKey, lastOps int) (DocDiag, error)
	// DeleteDoc evicts the document's live sessions, then deletes it from storage. A
	// document that does not exist is a NotFound *protocol.Error.
	DeleteDoc(ctx context.Context, key storage.DocKey) (DeleteResult, error)
}

// AdminDoc is one document in GET /v1/admin/docs.
type AdminDoc struct {
	ID               string `json:"id"`
	Type             string `json:"type"`
	Revision         int64  `json:"revision"`
	SnapshotRevision int64  `json:"snapshotRevision"`
}

// AdminDocList is GET /v1/admin/docs.
type AdminDocList struct {
	Tenant string     `json:"tenant"`
	Docs   []AdminDoc `json:"docs"`
	// Next is the cursor of the next page (pass it as ?after=); empty on the last page.
	Next string `json:"next,omitempty"`
}

// DocDiag is GET /v1/admin/docs/{id}/diag.
type DocDiag struct {
	Tenant string `json:"tenant"`
	ID     string `json:"id"`
	// Node answered; Owner is the node that owns the document ("" when no node owns it now);
	// Loaded says whether the document is loaded on Node.
	Node   string `json:"node"`
	Owner  string `json:"owner"`
	Loaded bool   `json:"loaded"`
	Type   string `json:"type"`
	// Revision is the loaded document's revision, else the stored one; Durable the last
	// revision storage acknowledged (loaded documents only, like Pending).
	Revision int64 `json:"revision"`
	Durable  int64 `json:"durable,omitempty"`
	Pending  int   `json:"pending,omitempty"`
	// Peers are the peer ids joined (loaded documents only; a document loaded on another node
	// has its peers there).
	Peers            []string `json:"peers"`
	SnapshotRevision int64    `json:"snapshotRevision"`
	// SnapshotAgeSeconds is how old the latest snapshot is; -1 when there is none.
	SnapshotAgeSeconds float64          `json:"snapshotAgeSeconds"`
	Ops                []protocol.LogOp `json:"ops"`
}

// DeleteResult is DELETE /v1/admin/docs/{id}.
type DeleteResult struct {
	Tenant   string `json:"tenant"`
	ID       string `json:"id"`
	Deleted  bool   `json:"deleted"`
	Revision int64  `json:"revision"`
	// EvictedPeers is how many peers were connected to the document here and were dropped.
	EvictedPeers int `json:"evictedPeers"`
}

const (
	defaultAdminPage = 100
	maxAdminPage     = 1000
	defaultDiagOps   = 20
	maxDiagOps       = 1000
)

// adminAuthorize authorizes a management request and returns the tenant it acts on
// (?tenant=, default "default").
func (a *API) adminAuthorize(r *http.Request, docID string, write bool) (string, error) {
	if a.cfg.Admin == nil {
		return "", protocol.Errorf(protocol.CodeForbidden, "the management API is closed on this server")
	}
	tenant := r.URL.Query().Get("tenant")
	if tenant == "" {
		tenant = "default"
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := a.cfg.Admin.AuthorizeAdmin(ctx, credentials(r, a.cfg.PassHeaders), tenant, docID, write); err != nil {
		return "", err
	}
	return tenant, nil
}

func queryInt(r *http.Request, name string, def, maxV int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, protocol.Errorf(protocol.CodeInvalidMessage, "%s must be a whole number", name)
	}
	return min(n, maxV), nil
}

func (a *API) adminList(w http.ResponseWriter, r *http.Request) error {
	tenant, err := a.adminAuthorize(r, "", false)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", defaultAdminPage, maxAdminPage)
	if err != nil {
		return err
	}
	if limit == 0 {
		limit = defaultAdminPage
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.RequestTimeout)
	defer cancel()
	docs, err := a.cfg.Admin.ListDocs(ctx, tenant, r.URL.Query().Get("after"), limit)
	if err != nil {
		return err
	}
	out := AdminDocList{Tenant: tenant, Docs: make([]AdminDoc, 0, len(docs))}
	for _, d := range docs {
		out.Docs = append(out.Docs, AdminDoc{ID: d.Doc.ID, Type: d.Type, Revision: d.Revision, SnapshotRevision: d.SnapshotRevision})
	}
	if len(docs) == limit && limit > 0 {
		out.Next = docs[len(docs)-1].Doc.ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) adminDiag(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	if err := protocol.ValidateDocID(id, a.cfg.Session.Limits); err != nil {
		return err
	}
	tenant, err := a.adminAuthorize(r, id, false)
	if err != nil {
		return err
	}
	n, err := queryInt(r, "ops", defaultDiagOps, maxDiagOps)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.RequestTimeout)
	defer cancel()
	diag, err := a.cfg.Admin.DiagDoc(ctx, storage.DocKey{Tenant: tenant, ID: id}, n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, diag)
	return nil
}

func (a *API) adminDelete(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	if err := protocol.ValidateDocID(id, a.cfg.Session.Limits); err != nil {
		return err
	}
	tenant, err := a.adminAuthorize(r, id, true)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.RequestTimeout)
	defer cancel()
	res, err := a.cfg.Admin.DeleteDoc(ctx, storage.DocKey{Tenant: tenant, ID: id})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
