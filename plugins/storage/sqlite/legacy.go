package sqlite

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/opstream/opstream/pluginsdk/storage"
)

// recoverLegacyLog moves the ops of an op log file of the previous format (opstream.oplog.db,
// an SQLite table) into the main database and removes the file.
func (st *state) recoverLegacyLog(ctx context.Context) error {
	path := st.cfg.logPath()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	db, err := openWriter(path, st.cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	var last int64
	for {
		rs, err := db.QueryContext(ctx, `SELECT seq, tenant, id, type, epoch, revision, client_id, client_seq, data, ts
			FROM log WHERE seq > ? ORDER BY seq LIMIT 16384`, last)
		if err != nil {
			return dbErr(ctx, "recover log", err)
		}
		byDoc := make(map[storage.DocKey]*pending)
		n := 0
		for rs.Next() {
			var (
				o         logOp
				k         storage.DocKey
				typ       string
				epoch, cs int64
			)
			if err := rs.Scan(&o.seq, &k.Tenant, &k.ID, &typ, &epoch, &o.op.Revision, &o.op.ClientID, &cs, &o.op.Data, &o.op.UnixMillis); err != nil {
				rs.Close()
				return dbErr(ctx, "recover log", err)
			}
			o.op.Seq = uint64(cs)
			w := byDoc[k]
			if w == nil {
				w = &pending{k: k, typ: typ}
				byDoc[k] = w
			}
			w.epoch = max(w.epoch, uint64(epoch))
			w.ops = append(w.ops, o)
			last = o.seq
			n++
		}
		err = rs.Err()
		rs.Close()
		if err != nil {
			return dbErr(ctx, "recover log", err)
		}
		if n == 0 {
			break
		}
		work := make([]pending, 0, len(byDoc))
		for _, w := range byDoc {
			slices.SortFunc(w.ops, func(a, b logOp) int { return cmp.Compare(a.op.Revision, b.op.Revision) })
			work = append(work, *w)
		}
		if err := st.moveToMain(ctx, work, nil); err != nil {
			return err
		}
		st.logf("recovered %d ops of %d documents from the op log file", n, len(work))
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("recover op log file %s: %w", path, err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("recover op log file: %w", err)
		}
	}
	st.logf("moved the previous format's op log file %s into the main database and removed it", path)
	return syncDir(filepath.Dir(path))
}

// logSchema is the previous format's op log file schema (user_version 1): ops in the order they were appended,
// with what compaction needs to create their document in the main database.
const logSchema = `CREATE TABLE IF NOT EXISTS log (
	seq INTEGER PRIMARY KEY,
	tenant TEXT NOT NULL,
	id TEXT NOT NULL,
	type TEXT NOT NULL,
	epoch INTEGER NOT NULL,
	revision INTEGER NOT NULL,
	client_id TEXT NOT NULL,
	client_seq INTEGER NOT NULL,
	data BLOB NOT NULL,
	ts INTEGER NOT NULL
);
PRAGMA user_version = 1;`
