// Package jsonscan is a small, strict JSON reader for engines written as Go WASM guests. In a Go
// wasip1 guest encoding/json costs 20-40x more than hand-written parsing (docs/plugins.md): in
// the tree engine it made a move op cost ~365 µs through the module and a 1 MB snapshot miss the
// host's 1 s call deadline on open. A Scanner reads exactly the shapes an engine asks for, in
// one pass, with few allocations:
//
//	s := jsonscan.New(op)
//	var fs jsonscan.Fields
//	err := s.Object("op", func(key string) error {
//		switch key {
//		case "id":
//			if err := fs.Once(0, key); err != nil {
//				return err
//			}
//			id, err = s.Name("op", key, 64)
//			return err
//		case "value":
//			value, err = s.Value(nil, "op") // any JSON value, compacted
//			return err
//		}
//		return jsonscan.Invalid("op: unknown key %q", key)
//	})
//	if err == nil {
//		err = s.End("op")
//	}
//
// It accepts exactly what encoding/json accepts, as valid UTF-8 (checked by FuzzValue against
// json.Valid, json.Compact and json.Unmarshal); every error it returns wraps ErrInvalid. It
// keeps no global state; a Scanner belongs to one goroutine.
package jsonscan
