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
