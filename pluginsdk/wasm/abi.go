// Package wasm holds the OpStream WASM ABI shared by the host and guest modules: version,
// export names, result statuses and the framing of multi-part inputs. The guest-side runtime
// (memory handoff, result packing) is in the files built for GOOS=wasip1.
//
// The ABI is specified in docs/plugins.md.
package wasm

import (
	"encoding/binary"
	"errors"
	"strconv"
	"unicode/utf8"
)

// ABIVersion is the ABI version this SDK implements; modules export it from opstream_abi_version.
const ABIVersion = 1

// Export names common to every module.
const (
	ExportMemory     = "memory"
	ExportABIVersion = "opstream_abi_version"
	ExportInfo       = "opstream_info"
	ExportBuffer     = "opstream_buffer"
	ExportInitialize = "_initialize"
)

// Engine export names.
const (
	ExportEngineEmpty     = "engine_empty"
	ExportEngineOpen      = "engine_open"
	ExportEngineClose     = "engine_close"
	ExportEngineSnapshot  = "engine_snapshot"
	ExportEngineApply     = "engine_apply"
	ExportEngineTransform = "engine_transform"
	ExportEngineValidate  = "engine_validate"
	ExportEngineCompose   = "engine_compose"
)

// Authorizer export names.
const (
	ExportAuthorizerInit = "authorizer_init"
	ExportAuthorize      = "authorize"
)

// Roles a module declares in its manifest.
const (
	RoleEngine     = "engine"
	RoleAuthorizer = "authorizer"
)

// Result statuses: the first byte of every result.
const (
	StatusOK       byte = 0
	StatusRejected byte = 1
	StatusError    byte = 2
)

// Sides for transform: which of two inserts at one position goes first.
const (
	SideLeft  int32 = 0
	SideRight int32 = 1
)

// Manifest is what opstream_info returns.
type Manifest struct {
	ABI          int      `json:"abi"`
	Role         string   `json:"role"`
	Name         string   `json:"name"`
	Version      string   `json:"version"`
	DocType      string   `json:"docType,omitempty"`
	Capabilities []string `json:"capabilities,omitempty"`
}

// ErrBadFrame reports a framed input that is cut short.
var ErrBadFrame = errors.New("wasm: malformed frame")

// AppendFrame appends b to dst as one frame (u32 little-endian length, then the bytes).
func AppendFrame(dst, b []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(b)))
	return append(dst, b...)
}

// FramesLen is the encoded size of frames holding parts.
func FramesLen(parts ...[]byte) int {
	n := 0
	for _, p := range parts {
		n += 4 + len(p)
	}
	return n
}

// SplitFrames decodes a framed input into its parts. The parts alias in.
func SplitFrames(in []byte) ([][]byte, error) {
	var parts [][]byte
	for len(in) > 0 {
		if len(in) < 4 {
			return nil, ErrBadFrame
		}
		n := binary.LittleEndian.Uint32(in)
		in = in[4:]
		if uint64(n) > uint64(len(in)) {
			return nil, ErrBadFrame
		}
		parts = append(parts, in[:n:n])
		in = in[n:]
	}
	return parts, nil
}

// AppendManifestJSON appends m as JSON to dst. It is hand-written so guest modules need not link
// encoding/json (which costs a Go guest about 1.4 MB of code and start-up time).
func AppendManifestJSON(dst []byte, m Manifest) []byte {
	dst = append(dst, `{"abi":`...)
	dst = strconv.AppendInt(dst, int64(m.ABI), 10)
	dst = append(dst, `,"role":`...)
	dst = AppendJSONString(dst, m.Role)
	dst = append(dst, `,"name":`...)
	dst = AppendJSONString(dst, m.Name)
	dst = append(dst, `,"version":`...)
	dst = AppendJSONString(dst, m.Version)
	if m.DocType != "" {
		dst = append(dst, `,"docType":`...)
		dst = AppendJSONString(dst, m.DocType)
	}
	if len(m.Capabilities) > 0 {
		dst = append(dst, `,"capabilities":[`...)
		for i, c := range m.Capabilities {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendJSONString(dst, c)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// AppendJSONString appends s to dst as a JSON string, escaped the way JavaScript's
// JSON.stringify does it: only '"', '\\' and control characters are escaped (\b \t \n \f \r
// by name, the others as \u00xx with lower-case hex); everything else, including non-ASCII, is
// copied as UTF-8. Invalid UTF-8 is replaced by U+FFFD so the output is always valid JSON.
func AppendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
