package errs_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"glint/internal/errs"
)

func TestKindAndMessage(t *testing.T) {
	inner := errs.E(errs.Op("store.Add"), errs.TooLarge, "Image storage media is full", io.ErrShortWrite)
	outer := errs.E(errs.Op("image.Upload"), inner)
	wrapped := fmt.Errorf("ctx: %w", outer)
	cases := []struct {
		err  error
		kind errs.Kind
		msg  string
	}{
		{inner, errs.TooLarge, "Image storage media is full"},
		{outer, errs.TooLarge, "Image storage media is full"},
		{wrapped, errs.TooLarge, "Image storage media is full"},
		{errs.E(errs.Op("x"), errs.Forbidden, "outer wins", inner), errs.Forbidden, "outer wins"},
		{io.EOF, errs.Other, ""},
		{nil, errs.Other, ""},
	}
	for _, c := range cases {
		if k := errs.KindOf(c.err); k != c.kind {
			t.Errorf("KindOf(%v) = %v, want %v", c.err, k, c.kind)
		}
		if m := errs.Message(c.err); m != c.msg {
			t.Errorf("Message(%v) = %q, want %q", c.err, m, c.msg)
		}
	}
	if !errors.Is(outer, io.ErrShortWrite) {
		t.Error("cause lost")
	}
	if got := outer.Error(); got != "image.Upload: too large: store.Add: Image storage media is full: short write" {
		t.Errorf("Error() = %q", got)
	}
}

type causeErr struct{ code int }

func (c *causeErr) Error() string { return fmt.Sprint("cause ", c.code) }

// An *Error keeps its cause: errors.Unwrap, errors.Is and errors.As reach
// it through any number of E and %w layers, and classifying does not
// replace it.
func TestCauseKept(t *testing.T) {
	cause := &causeErr{7}
	inner := errs.E(errs.Op("store.Get"), errs.NotFound, cause)
	outer := errs.E(errs.Op("image.Open"), fmt.Errorf("reading: %w", inner))
	if got := errors.Unwrap(inner); got != cause {
		t.Errorf("Unwrap(inner) = %v, want the cause", got)
	}
	if !errors.Is(outer, cause) || !errors.Is(outer, inner) {
		t.Error("errors.Is does not reach through E")
	}
	var ce *causeErr
	if !errors.As(outer, &ce) || ce.code != 7 {
		t.Errorf("errors.As found %v", ce)
	}
	var e *errs.Error
	if !errors.As(outer, &e) || e.Op != "image.Open" || e.Kind != errs.NotFound {
		t.Errorf("errors.As(*errs.Error) = %+v, want the outer layer with the inner Kind", e)
	}
	if errs.KindOf(outer) != errs.NotFound {
		t.Errorf("KindOf = %v", errs.KindOf(outer))
	}
	if got := errs.E(errs.Op("x"), errs.Invalid).(*errs.Error).Unwrap(); got != nil {
		t.Errorf("no cause unwraps to %v", got)
	}
}
