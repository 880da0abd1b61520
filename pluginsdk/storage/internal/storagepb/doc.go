// Package storagepb holds the generated protobuf and gRPC code for the storage plugin protocol.
// Only package storage uses it; plugin authors never see it. Regenerate with gen.sh.
package storagepb

//go:generate ./gen.sh
