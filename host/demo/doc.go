// Package demo serves OpStream's collaborative editor demo (`opstream serve --demo`): a page
// with a CodeMirror 6 plain-text editor and a Quill rich-text editor, built from clients/js/demo
// by `make build` into dist/ and embedded in the binary. Handler is stateless; it owns no
// goroutines.
package demo
