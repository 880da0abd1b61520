package sqlite

import (
	"github.com/opstream/opstream/pluginsdk/storage"
)

// Test hooks: the op log's record encoding and file names, and the previous format's schema.

func AppendOpRecord(b []byte, seq int64, k storage.DocKey, typ string, epoch uint64, op storage.Op) []byte {
	return appendOpRecord(b, seq, k, typ, epoch, &op)
}

func AppendTombstone(b []byte, seq int64, k storage.DocKey) []byte { return appendTombstone(b, seq, k) }

func SegmentPath(dbPath string, n int64) string { return Config{Path: dbPath}.segmentPath(n) }

func ListSegments(dbPath string) ([]int64, error) { return Config{Path: dbPath}.listSegments() }

const LegacyLogSchema = logSchema
