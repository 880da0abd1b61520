package postgres_test

import (
	"errors"
	"testing"

	"github.com/opstream/opstream/pluginsdk/storage"
	"github.com/opstream/opstream/pluginsdk/storagetest"
)

func startPlugin(t testing.TB, config []byte) *storage.Client {
	t.Helper()
	return storagetest.StartChild(t, "postgres", config)
}

func TestPluginConformance(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T) storage.Provider {
		return startPlugin(t, configJSON(t, srv, srv.NewSchema()))
	})
}

func TestPluginBadConfig(t *testing.T) {
	t.Parallel()
	cmd := storagetest.ChildCommand(t, "postgres")
	_, err := storage.Start(t.Context(), storage.ClientConfig{Cmd: cmd, Config: []byte(`{"dsn": "postgres://x@/db", "bogus": 1}`)})
	if !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("start with an unknown config key: %v, want ErrInvalid", err)
	}
	t.Log(err)
}

// TestPluginRacesInProcess races a plugin subprocess against an in-process provider on one
// schema (two processes, two pools): exactly one wins each revision.
func TestPluginRacesInProcess(t *testing.T) {
	t.Parallel()
	schema := srv.NewSchema()
	in := newProvider(t, srv, schema)
	defer in.Close()
	out := startPlugin(t, configJSON(t, srv, schema))
	doc := storage.DocKey{Tenant: "acme", ID: "raced"}
	for round := range int64(20) {
		results := make(chan storage.AppendResult, 2)
		errs := make(chan error, 2)
		for _, p := range []storage.Provider{in, out} {
			go func() {
				resp, err := p.Append(t.Context(), &storage.AppendRequest{Appends: []storage.Append{
					{Doc: doc, Type: "text", ExpectedRevision: 3 * round, Epoch: 1, Ops: storagetest.Ops(3*round+1, 3, 0)},
				}})
				if err != nil {
					errs <- err
					return
				}
				results <- resp.Results[0]
			}()
		}
		wins, conflicts := 0, 0
		for range 2 {
			select {
			case err := <-errs:
				t.Fatalf("round %d: %v", round, err)
			case r := <-results:
				switch {
				case r.Err == nil:
					wins++
				case errors.Is(r.Err, storage.ErrConflict):
					conflicts++
				default:
					t.Fatalf("round %d: %v", round, r.Err)
				}
			}
		}
		if wins != 1 || conflicts != 1 {
			t.Fatalf("round %d: %d wins, %d conflicts", round, wins, conflicts)
		}
	}
	if got, err := in.Load(t.Context(), doc); err != nil || got.Info.Revision != 60 {
		t.Fatalf("load after 20 rounds: %+v, %v; want revision 60", got, err)
	}
}

func TestPluginLifecycle(t *testing.T) {
	t.Parallel()
	storagetest.RunPluginLifecycle(t, func(t *testing.T) *storage.Client {
		return startPlugin(t, configJSON(t, srv, srv.NewSchema()))
	})
}
