package memory_test

import (
	"testing"

	"github.com/opstream/opstream/plugins/storage/memory"
	"github.com/opstream/opstream/pluginsdk/storage"
	"github.com/opstream/opstream/pluginsdk/storagetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(*testing.T) storage.Provider { return memory.New() })
}
