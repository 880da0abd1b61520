package tree

import "github.com/opstream/opstream/pluginsdk/jsonscan"

// scanner is the shared strict JSON reader (pluginsdk/jsonscan) with this engine's readers
// as methods.
type scanner struct {
	jsonscan.Scanner
	slab []node // ParseSnapshot's next nodes
}
