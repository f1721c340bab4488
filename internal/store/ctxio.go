package store

import (
	"context"
	"io"
)

// ContextReader returns r stopping with ctx's error as soon as ctx is
// done, so that a driver's copy ends when its request does.
func ContextReader(ctx context.Context, r io.Reader) CtxReader { return CtxReader{ctx, r} }

// CtxReader is the reader ContextReader returns.
type CtxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c CtxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// WriteTo lets a source that writes in large chunks keep doing so, still
// checking ctx between writes.
func (c CtxReader) WriteTo(w io.Writer) (int64, error) {
	wt, ok := c.r.(io.WriterTo)
	if !ok {
		// A 1 MiB buffer: fewer syscalls than io.Copy's 32 KiB.
		return io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{c}, make([]byte, 1<<20))
	}
	return wt.WriteTo(ctxWriter{c.ctx, w})
}

type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
