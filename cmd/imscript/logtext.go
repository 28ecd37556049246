package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// stackText is the text log handler: slog's text handler, except that an
// err or stack attribute whose value has several lines (an error with its
// stack traceback) keeps its first line in the record and the other lines
// follow the record, each on its own line, indented:
//
//	time=... level=ERROR msg="handler error" worker=0 err="echo.lua:4: boom" handler=receive
//	    stack traceback:
//	      echo.lua:4: in receive handler (echo.lua:3)
//
// The JSON handler keeps the whole value in its field.
type stackText struct {
	inner slog.Handler // a text handler writing to *buf
	out   io.Writer
	mu    *sync.Mutex // guards buf and the writes to out
	buf   *bytes.Buffer
}

func newStackText(w io.Writer, o *slog.HandlerOptions) *stackText {
	buf := &bytes.Buffer{}
	return &stackText{inner: slog.NewTextHandler(buf, o), out: w, mu: &sync.Mutex{}, buf: buf}
}

func (h *stackText) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *stackText) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.inner = h.inner.WithAttrs(as)
	return &c
}

func (h *stackText) WithGroup(name string) slog.Handler {
	c := *h
	c.inner = h.inner.WithGroup(name)
	return &c
}

func (h *stackText) Handle(ctx context.Context, r slog.Record) error {
	var more []string
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if s, ok := multiLine(a.Value); ok && (a.Key == "err" || a.Key == "stack") {
			first, rest, _ := strings.Cut(strings.TrimRight(s, "\n"), "\n")
			a = slog.String(a.Key, first)
			more = append(more, strings.Split(rest, "\n")...)
		}
		out.AddAttrs(a)
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buf.Reset()
	if err := h.inner.Handle(ctx, out); err != nil {
		return err
	}
	for _, l := range more {
		// Tabs (Lua's traceback, JS's "\tat") become two spaces each,
		// under a four-space indent.
		trimmed := strings.TrimLeft(l, "\t")
		h.buf.WriteString("    ")
		h.buf.WriteString(strings.Repeat("  ", len(l)-len(trimmed)))
		h.buf.WriteString(strings.TrimRight(trimmed, " \t\r"))
		h.buf.WriteByte('\n')
	}
	_, err := h.out.Write(h.buf.Bytes())
	return err
}

// multiLine returns a string or error value's text when it has more than
// one line.
func multiLine(v slog.Value) (string, bool) {
	var s string
	switch v.Kind() {
	case slog.KindString:
		s = v.String()
	case slog.KindAny:
		err, ok := v.Any().(error)
		if !ok || err == nil {
			return "", false
		}
		s = err.Error()
	default:
		return "", false
	}
	return s, strings.Contains(strings.TrimRight(s, "\n"), "\n")
}
