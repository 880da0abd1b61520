//go:build unix

package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lockWait is how long opening waits for another process to release the database: after a
// kill -9 of the server, its orphaned provider notices within a fraction of a second, moves its
// op log into the main database and exits, while the restarted server's provider is already
// opening.
const lockWait = 15 * time.Second

// lockFile takes an exclusive lock on path (created if missing) for as long as the returned
// file stays open: the provider keeps heads in memory, so a second process writing the same
// database would break conflict checks. It waits up to lockWait (or ctx) for a holder to go.
func lockFile(ctx context.Context, path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	deadline := time.Now().Add(lockWait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return f, nil
		case !errors.Is(err, syscall.EWOULDBLOCK):
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		case time.Now().After(deadline):
			f.Close()
			return nil, fmt.Errorf("database is in use by another process (%s stayed locked for %s): stop the other server first", path, lockWait)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("database is in use by another process (%s is locked): %w", path, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
