package jsonscan_test

import (
	"fmt"

	"github.com/opstream/opstream/pluginsdk/jsonscan"
)

// An engine reads its op, a JSON object with known keys, each at most once.
func Example() {
	op := []byte(`{"id": "row-1", "value": {"n": [1, 2]}}`)
	s := jsonscan.New(op)
	fs := jsonscan.Fields{What: "op"}
	var id string
	var value []byte
	err := s.Object("op", func(key string) error {
		var err error
		switch key {
		case "id":
			if err = fs.Once(0, key); err == nil {
				id, err = s.Name("op", key, 64)
			}
		case "value":
			if err = fs.Once(1, key); err == nil {
				value, err = s.Payload("op", key, 1<<16)
			}
		default:
			err = jsonscan.Invalid("op: unknown key %q", key)
		}
		return err
	})
	if err == nil {
		err = s.End("op")
	}
	fmt.Println(id, string(value), err)

	s = jsonscan.New([]byte(`{"id": 1}`))
	fmt.Println(s.Object("op", func(string) error { _, err := s.Name("op", "id", 64); return err }))
	// Output:
	// row-1 {"n":[1,2]} <nil>
	// invalid: op: id must be a string
}
