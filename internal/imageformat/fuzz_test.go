package imageformat

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"glint/internal/errs"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/FuzzInspect from the crafted images")

// FuzzInspect: arbitrary bytes written in arbitrary pieces never panic, keep
// the inspector's memory bounded, give the same Result however they are cut,
// and never pass Check with a failed safety check.
//
//	go test -run '^$' -fuzz FuzzInspect -fuzztime 60s ./internal/imageformat/
func FuzzInspect(f *testing.F) {
	for k, c := range craftedImages() {
		if len(c.data) <= 400<<10 {
			f.Add(c.data, uint64(k))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, cuts uint64) {
		whole := New()
		_, _ = whole.Write(data)
		want := whole.Result()

		// Cut the input pseudo-randomly (sizes 1 .. len/2+1) from cuts.
		ins := New()
		state := cuts | 1
		rest := data
		for len(rest) > 0 {
			state ^= state << 13
			state ^= state >> 7
			state ^= state << 17
			n := 1 + int(state%uint64(len(data)/2+1))
			n = min(n, len(rest))
			if w, err := ins.Write(rest[:n]); w != n || err != nil {
				t.Fatalf("Write = %d, %v", w, err)
			}
			if m := ins.retained(); m > maxRetained {
				t.Fatalf("inspector holds %d bytes", m)
			}
			rest = rest[n:]
		}
		got := ins.Result()
		if !sameResult(got, want) {
			t.Fatalf("cutting changed the result:\n%s\n%s", describe(got), describe(want))
		}

		switch {
		case got.Size != int64(len(data)):
			t.Fatalf("Size = %d for %d bytes", got.Size, len(data))
		case got.Format == "":
			t.Fatal("empty Format")
		case got.VirtualSize < 0:
			t.Fatalf("negative VirtualSize %d", got.VirtualSize)
		case len(got.Matches) == 0 && (got.Format != "raw" || got.VirtualSize != got.Size):
			t.Fatalf("no match but %s", describe(got))
		case len(got.Matches) > 0 && !slices.Contains(got.Matches, got.Format):
			t.Fatalf("Format not among Matches: %s", describe(got))
		case (got.Safe == nil) != (len(got.Failures) == 0):
			t.Fatalf("Safe and Failures disagree: %s", describe(got))
		case got.Safe != nil && !errs.Is(errs.Invalid, got.Safe):
			t.Fatalf("Safe is not invalid: %v", got.Safe)
		}
		for _, df := range diskFormats {
			err := Check(got, df)
			if err != nil && !errs.Is(errs.Invalid, err) {
				t.Fatalf("Check(%s) kind %v: %v", df, errs.KindOf(err), err)
			}
			if err == nil && got.Safe != nil && !notInspected[df] {
				t.Fatalf("Check(%s) passed an unsafe image: %s", df, describe(got))
			}
			if err == nil && !notInspected[df] && len(got.Matches) > 0 && !got.probedRaw() &&
				df != got.Format && !(df == "raw" && got.Format == "luks") {
				t.Fatalf("Check(%s) passed %s content", df, got.Format)
			}
		}
	})
}

// TestFuzzCorpus keeps testdata/fuzz/FuzzInspect (the committed seeds: the
// small crafted images, cut to the shortest prefix with the same verdict) in
// step with the builders. Regenerate with -update-corpus.
func TestFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzInspect")
	if *updateCorpus {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for k, c := range craftedImages() {
		if !c.small {
			continue
		}
		data := shortestEquivalent(t, c.data)
		file := fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\nuint64(%d)\n", data, k)
		path := filepath.Join(dir, c.name)
		if *updateCorpus {
			if err := os.WriteFile(path, file, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		old, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(old, file) {
			t.Errorf("%s is missing or stale; run: go test ./internal/imageformat -run TestFuzzCorpus -update-corpus", path)
		}
	}
}

// shortestEquivalent returns the shortest prefix of data (in 512-byte steps)
// that the inspector judges like data: same format, matches and failures.
func shortestEquivalent(t *testing.T, data []byte) []byte {
	full := inspectBytes(t, data, func() int { return 1 << 20 })
	same := func(r Result) bool {
		return r.Format == full.Format && slices.Equal(r.Matches, full.Matches) &&
			slices.Equal(r.Failures, full.Failures)
	}
	for n := 512; n < len(data); n += 512 {
		if same(inspectBytes(t, data[:n], func() int { return 1 << 20 })) {
			return data[:n]
		}
	}
	return data
}
