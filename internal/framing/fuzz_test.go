package framing

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// FuzzFraming feeds the tracker and the connection random bytes in random
// reads. Neither may panic; the verdict may not depend on the reads; the
// connection must hand the server what the tracker passed; and net/http,
// reading what was passed, must find every request the tracker accepted
// ending where the tracker says, and no other request.
//
//	go test -run='^$' -fuzz=FuzzFraming -parallel=2 ./internal/framing/
func FuzzFraming(f *testing.F) {
	for _, c := range goodCases() {
		f.Add([]byte(c.in), uint16(1))
		f.Add([]byte(c.in), uint16(4096))
	}
	for _, c := range badCases() {
		f.Add([]byte(c.in), uint16(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, piece uint16) {
		const limit = 512
		p := int(piece%4096) + 1
		out, ends, v := judge(limit, in, p)
		out1, ends1, v1 := judge(limit, in, len(in)+1)
		if string(out) != string(out1) || fmt.Sprint(ends) != fmt.Sprint(ends1) || fmt.Sprint(v) != fmt.Sprint(v1) {
			t.Fatalf("reads of %d: %q %v %v; at once: %q %v %v", p, out, ends, v, out1, ends1, v1)
		}

		fc := newConn(&script{reads: pieced(string(in), p)}, limit)
		got, err := readAll(fc, int(piece>>12)*500+1)
		want, wantErr := string(out), "EOF"
		if v != nil && v.head {
			want += standIn
		} else if v != nil {
			wantErr = "framing: Bad request framing: " + v.msg
		}
		if strings.Join(got, "") != want || fmt.Sprint(err) != wantErr {
			t.Fatalf("connection read %q, %v; want %q, %s", strings.Join(got, ""), err, want, wantErr)
		}

		sameAsGo(t, out, ends)
	})
}

// sameAsGo reads out, the bytes the tracker passed, with net/http's own
// request reader, as the server would.
func sameAsGo(t *testing.T, out []byte, ends []int) {
	rd := bytes.NewReader(out)
	br := bufio.NewReader(rd)
	at := func() int { return len(out) - rd.Len() - br.Buffered() }
	for i := 0; at() < len(out); i++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			// net/http refuses the head and closes the connection: what
			// follows is never read.
			return
		}
		_, err = io.Copy(io.Discard, req.Body)
		switch {
		case err != nil && i < len(ends):
			t.Fatalf("request %d: the tracker accepted it up to %d; net/http's body read fails: %v", i, ends[i], err)
		case err != nil:
			return // a request the tracker did not accept either
		case i >= len(ends):
			t.Fatalf("request %d: net/http reads it whole, up to %d; the tracker did not accept it", i, at())
		case at() != ends[i]:
			t.Fatalf("request %d: the tracker ends it at %d, net/http at %d", i, ends[i], at())
		}
	}
}
