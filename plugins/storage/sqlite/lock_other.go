//go:build !unix

package sqlite

import (
	"context"
	"os"
)

// lockFile opens path without locking on platforms without flock.
func lockFile(_ context.Context, path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
}
