package redis

import (
	"encoding/binary"
	"errors"
	"strconv"

	"github.com/opstream/opstream/pluginsdk/storage"
)

// Key layout (P is Config.KeyPrefix, |s| the byte length of s in decimal):
//
//	P d:|tenant|:tenant:|id|:id:h   head hash {type, rev, epoch, snap}
//	P d:|tenant|:tenant:|id|:id:o   op log, a list: index i holds the op of revision i+1
//	P d:|tenant|:tenant:|id|:id:s   snapshot hash {rev, type, data, meta, ms}
//	P t:|tenant|:tenant             the tenant's document ids, a sorted set (score 0, by lex)
//
// Length prefixes make the encoding injective: ("a:b", "c") and ("a", "b:c") give different
// keys, whatever bytes tenants and ids hold.

// docKeys are the keys of one document.
type docKeys struct {
	head, ops, snap, tenant string
}

func keysFor(prefix string, k storage.DocKey) docKeys {
	b := make([]byte, 0, len(prefix)+len(k.Tenant)+len(k.ID)+16)
	b = append(b, prefix...)
	b = append(b, "d:"...)
	b = appendLenPrefixed(b, k.Tenant)
	b = append(b, ':')
	b = appendLenPrefixed(b, k.ID)
	b = append(b, ':')
	base := string(b)
	return docKeys{
		head:   base + "h",
		ops:    base + "o",
		snap:   base + "s",
		tenant: tenantKey(prefix, k.Tenant),
	}
}

func tenantKey(prefix, tenant string) string {
	b := make([]byte, 0, len(prefix)+len(tenant)+8)
	b = append(b, prefix...)
	b = append(b, "t:"...)
	return string(appendLenPrefixed(b, tenant))
}

func appendLenPrefixed(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

// opFormat is the first byte of every stored op, so the encoding can change later.
const opFormat = 1

// encodeOp is one op log entry: format byte, uvarint seq, varint unix millis, uvarint length
// of the client id, the client id, then the data to the end. The revision is the list index.
func encodeOp(op *storage.Op) string {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64+binary.MaxVarintLen32+len(op.ClientID)+len(op.Data))
	b = append(b, opFormat)
	b = binary.AppendUvarint(b, op.Seq)
	b = binary.AppendVarint(b, op.UnixMillis)
	b = binary.AppendUvarint(b, uint64(len(op.ClientID)))
	b = append(b, op.ClientID...)
	b = append(b, op.Data...)
	return string(b)
}

var errBadOp = errors.New("malformed op entry")

// decodeOp reverses encodeOp; rev is the entry's revision.
func decodeOp(s string, rev int64) (storage.Op, error) {
	op := storage.Op{Revision: rev}
	if len(s) == 0 || s[0] != opFormat {
		return op, errBadOp
	}
	b := []byte(s[1:])
	seq, n := binary.Uvarint(b)
	if n <= 0 {
		return op, errBadOp
	}
	b = b[n:]
	ms, n := binary.Varint(b)
	if n <= 0 {
		return op, errBadOp
	}
	b = b[n:]
	cl, n := binary.Uvarint(b)
	if n <= 0 || cl > uint64(len(b)-n) {
		return op, errBadOp
	}
	b = b[n:]
	op.Seq, op.UnixMillis = seq, ms
	op.ClientID = string(b[:cl])
	op.Data = b[cl:len(b):len(b)]
	return op, nil
}
