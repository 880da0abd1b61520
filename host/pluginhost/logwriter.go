package pluginhost

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
)

// Bounds of what one instance may write to stdout and stderr.
const (
	maxLogLine = 1024 // a longer line is logged cut at this length
)

// logWriter turns a guest's stdout or stderr into slog records, one per line, with the module
// name attached. It forwards at most limit bytes over the instance's life and then logs once
// that output was dropped, so a chatty guest cannot flood the logs.
type logWriter struct {
	mu        sync.Mutex
	logger    *slog.Logger
	stream    string
	limit     int
	written   int
	line      []byte
	truncated bool
}

func newLogWriter(logger *slog.Logger, stream string, limit int) *logWriter {
	return &logWriter{logger: logger, stream: stream, limit: limit}
}

// Write implements io.Writer; it never fails, so the guest never sees an I/O error.
func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	if w.truncated {
		return n, nil
	}
	if w.written+len(p) > w.limit {
		p = p[:w.limit-w.written]
		w.truncated = true
	}
	w.written += len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			room := maxLogLine - len(w.line)
			if len(p) > room {
				w.line = append(w.line, p[:room]...)
				w.flushLocked()
				p = p[room:]
				continue
			}
			w.line = append(w.line, p...)
			break
		}
		w.line = append(w.line, p[:min(i, maxLogLine-len(w.line))]...)
		w.flushLocked()
		p = p[i+1:]
	}
	if w.truncated {
		w.flushLocked()
		w.logger.LogAttrs(context.Background(), slog.LevelWarn, "module output limit reached; dropping the rest",
			slog.String("stream", w.stream), slog.Int("limitBytes", w.limit))
	}
	return n, nil
}

func (w *logWriter) flushLocked() {
	if len(w.line) == 0 {
		return
	}
	w.logger.LogAttrs(context.Background(), slog.LevelInfo, "module output",
		slog.String("stream", w.stream), slog.String("line", string(w.line)))
	w.line = w.line[:0]
}

// flush logs a pending partial line; called when the instance is closed.
func (w *logWriter) flush() {
	w.mu.Lock()
	w.flushLocked()
	w.mu.Unlock()
}
