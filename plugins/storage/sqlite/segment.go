package sqlite

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/opstream/opstream/pluginsdk/storage"
)

// The op log is a series of segment files beside the main database (opstream.db ->
// opstream.oplog.000001, opstream.oplog.000002, ...), each a sequence of records:
//
//	u32 LE  payload length
//	u32 LE  CRC-32C of the payload
//	payload: kind byte, then
//	  recOp:        uvarint seq, string tenant, string id, string type, uvarint epoch,
//	                varint revision, string client id, uvarint client seq, bytes data, varint ts
//	  recTombstone: uvarint seq, string tenant, string id (the document was deleted: drop its
//	                earlier records and delete it from the main database)
//
// where a string or bytes is a uvarint length and the bytes. Appends write one request's records
// with one write(2) and the syncer fsyncs the file: no SQLite transaction on the append path.
// Compaction seals the current segment (fsync, then appends go to a new one), moves its ops into
// the main database and removes it. A crash can leave a torn record only at the end of the last
// segment (sealed ones were fsynced whole); recovery stops there and cuts it off.
const (
	recOp        = 1
	recTombstone = 2
)

// recHeader is the size of a record's length and checksum.
const recHeader = 8

// maxRecord bounds a record's payload when reading: anything longer is corruption.
const maxRecord = 1 << 30

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errTorn marks a record cut short or failing its checksum.
var errTorn = errors.New("torn or corrupt record")

// segment is one op log file open for appending.
type segment struct {
	n    int64 // its number in the file name
	path string
	f    *os.File
	size int64 // bytes written
}

// segmentPrefix is the op log's file name prefix: opstream.db -> opstream.oplog.
func (c Config) segmentPrefix() string {
	return strings.TrimSuffix(c.Path, ".db") + ".oplog."
}

func (c Config) segmentPath(n int64) string {
	return fmt.Sprintf("%s%06d", c.segmentPrefix(), n)
}

// listSegments returns the numbers of the op log's segment files, in order.
func (c Config) listSegments() ([]int64, error) {
	prefix := c.segmentPrefix()
	matches, err := filepath.Glob(globEscape(prefix) + "*")
	if err != nil {
		return nil, fmt.Errorf("list op log segments: %w", err)
	}
	var ns []int64
	for _, m := range matches {
		n, err := strconv.ParseInt(strings.TrimPrefix(m, prefix), 10, 64)
		if err != nil || n <= 0 {
			continue // opstream.oplog.db (the old single-file log) and anything else
		}
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return ns, nil
}

// globEscape quotes filepath.Match's special characters.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// createSegment creates segment n (empty) and syncs the directory so that it survives a crash.
func createSegment(c Config, n int64) (*segment, error) {
	path := c.segmentPath(n)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create op log segment: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return &segment{n: n, path: path, f: f}, nil
}

// appendString appends a uvarint length and s.
func appendString[S ~string | ~[]byte](b []byte, s S) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// beginRecord reserves a record's header in b; endRecord fills it in.
func beginRecord(b []byte) ([]byte, int) {
	at := len(b)
	return append(b, 0, 0, 0, 0, 0, 0, 0, 0), at
}

func endRecord(b []byte, at int) []byte {
	payload := b[at+recHeader:]
	binary.LittleEndian.PutUint32(b[at:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[at+4:], crc32.Checksum(payload, castagnoli))
	return b
}

// appendOpRecord appends the record of one op.
func appendOpRecord(b []byte, seq int64, k storage.DocKey, typ string, epoch uint64, op *storage.Op) []byte {
	b, at := beginRecord(b)
	b = append(b, recOp)
	b = binary.AppendUvarint(b, uint64(seq))
	b = appendString(b, k.Tenant)
	b = appendString(b, k.ID)
	b = appendString(b, typ)
	b = binary.AppendUvarint(b, epoch)
	b = binary.AppendVarint(b, op.Revision)
	b = appendString(b, op.ClientID)
	b = binary.AppendUvarint(b, op.Seq)
	b = appendString(b, op.Data)
	b = binary.AppendVarint(b, op.UnixMillis)
	return endRecord(b, at)
}

// appendTombstone appends the record of a document's deletion.
func appendTombstone(b []byte, seq int64, k storage.DocKey) []byte {
	b, at := beginRecord(b)
	b = append(b, recTombstone)
	b = binary.AppendUvarint(b, uint64(seq))
	b = appendString(b, k.Tenant)
	b = appendString(b, k.ID)
	return endRecord(b, at)
}

// record is a decoded record.
type record struct {
	kind  byte
	seq   int64
	k     storage.DocKey
	typ   string
	epoch uint64
	op    storage.Op
}

// recordReader decodes a segment's records.
type recordReader struct {
	r   *bufio.Reader
	off int64 // bytes of whole records read
	buf []byte
}

// next returns the next record; io.EOF at a clean end, errTorn (wrapped) at a torn or corrupt one.
func (rr *recordReader) next() (record, error) {
	var hdr [recHeader]byte
	n, err := io.ReadFull(rr.r, hdr[:])
	switch {
	case err == io.EOF:
		return record{}, io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF):
		return record{}, fmt.Errorf("%d-byte header at offset %d: %w", n, rr.off, errTorn)
	case err != nil:
		return record{}, err
	}
	size := binary.LittleEndian.Uint32(hdr[:])
	if size == 0 || size > maxRecord {
		return record{}, fmt.Errorf("record of %d bytes at offset %d: %w", size, rr.off, errTorn)
	}
	if cap(rr.buf) < int(size) {
		rr.buf = make([]byte, size)
	}
	payload := rr.buf[:size]
	if _, err := io.ReadFull(rr.r, payload); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
			return record{}, fmt.Errorf("record at offset %d cut short: %w", rr.off, errTorn)
		}
		return record{}, err
	}
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(hdr[4:]) {
		return record{}, fmt.Errorf("record at offset %d fails its checksum: %w", rr.off, errTorn)
	}
	rec, err := decodeRecord(payload)
	if err != nil {
		return record{}, fmt.Errorf("record at offset %d: %v: %w", rr.off, err, errTorn)
	}
	rr.off += recHeader + int64(size)
	return rec, nil
}

// decodeRecord decodes a payload whose checksum matched; strings and data are copied.
func decodeRecord(p []byte) (record, error) {
	d := decoder{p: p}
	var rec record
	rec.kind = d.byte()
	rec.seq = int64(d.uvarint())
	rec.k.Tenant = string(d.bytes())
	rec.k.ID = string(d.bytes())
	switch rec.kind {
	case recOp:
		rec.typ = string(d.bytes())
		rec.epoch = d.uvarint()
		rec.op.Revision = d.varint()
		rec.op.ClientID = string(d.bytes())
		rec.op.Seq = d.uvarint()
		rec.op.Data = append([]byte{}, d.bytes()...)
		rec.op.UnixMillis = d.varint()
	case recTombstone:
	default:
		return record{}, fmt.Errorf("unknown record kind %d", rec.kind)
	}
	if d.err != nil {
		return record{}, d.err
	}
	if len(d.p) != 0 {
		return record{}, fmt.Errorf("%d bytes after the record's fields", len(d.p))
	}
	return rec, nil
}

// decoder reads a payload's fields; the first error sticks.
type decoder struct {
	p   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("truncated %s", what)
	}
	d.p = nil
}

func (d *decoder) byte() byte {
	if len(d.p) == 0 {
		d.fail("kind")
		return 0
	}
	b := d.p[0]
	d.p = d.p[1:]
	return b
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.p)
	if n <= 0 {
		d.fail("number")
		return 0
	}
	d.p = d.p[n:]
	return v
}

// varint reads a zigzag-encoded signed number (binary.AppendVarint's encoding).
func (d *decoder) varint() int64 {
	u := d.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.p)) {
		d.fail("string")
		return nil
	}
	b := d.p[:n]
	d.p = d.p[n:]
	return b
}
