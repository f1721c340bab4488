package bench

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0.001, time.Millisecond}} {
		if got := Percentile(d, c.p); got != c.want {
			t.Errorf("Percentile(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if Percentile(nil, 0.5) != 0 {
		t.Error("empty")
	}
}

func TestCheckLoopback(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:9292/":      "http://127.0.0.1:9292",
		"http://localhost:9393/v2?x":  "http://127.0.0.1:9393",
		"http://[::1]:9292":           "http://[::1]:9292",
		"http://10.0.0.1:9292":        "",
		"https://127.0.0.1:9292":      "",
		"http://example.com:9292/v2/": "",
	} {
		got, err := CheckLoopback(in)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("CheckLoopback(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1GiB": 1 << 30, "256MiB": 256 << 20, "64K": 64 << 10, "12345": 12345} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v", in, got, err)
		}
	}
	if _, err := ParseSize("1TB"); err == nil {
		t.Error("1TB accepted")
	}
}

// The hashes the benchmark expects must be those of the bytes it sends.
func TestDataSums(t *testing.T) {
	p := NewPattern(2 * Chunk)
	size := int64(5*Chunk + 123)
	tog, _ := HashTogether(p, size)
	ser, _ := HashSerial(p, size)
	if tog != ser {
		t.Fatalf("together %v != serial %v", tog, ser)
	}
	dir := t.TempDir()
	ds, wrote, err := PrepareData(dir, p, size)
	if err != nil || wrote == 0 {
		t.Fatal(wrote, err)
	}
	b, err := os.ReadFile(ds.Path)
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(b)
	if int64(len(b)) != size || hex.EncodeToString(sum[:]) != ds.Sums.MD5 || ds.Sums != tog {
		t.Fatalf("file of %d bytes, md5 %x; sums %v", len(b), sum, ds.Sums)
	}
	if ds2, wrote, err := PrepareData(dir, p, size); err != nil || wrote != 0 || *ds2 != *ds {
		t.Fatalf("reuse: %v %v %v", ds2, wrote, err)
	}
	if hw, _, err := HashWrite(filepath.Join(dir, "pipeline"), p, size); err != nil || hw != tog {
		t.Fatalf("HashWrite: %v %v", hw, err)
	}
	n, _, err := LoopbackCopy(filepath.Join(dir, filepath.Base(ds.Path)))
	if err != nil || n != size {
		t.Fatalf("loopback copy: %d %v", n, err)
	}
}

// With a token, every request carries it (glintbench -token-file); without
// one, none has the header.
func TestClientToken(t *testing.T) {
	for _, token := range []string{"", "gAAAA-token"} {
		var got []string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = append(got, r.Header.Get("X-Auth-Token"))
			w.Write([]byte("{}"))
		}))
		c, err := NewClient(srv.URL, 1)
		if err != nil {
			t.Fatal(err)
		}
		c.Token = token
		if err := c.NewWorker().Do(context.Background(), "GET", "/v2/images/x", "", nil, http.StatusOK, nil); err != nil {
			t.Fatal(err)
		}
		srv.Close()
		if len(got) != 1 || got[0] != token {
			t.Errorf("token %q: server saw %q", token, got)
		}
	}
}

// The soak figures: the rate of the first and of the last window, from
// the counts taken once a second; none for a load shorter than two.
func TestWindowOps(t *testing.T) {
	for _, c := range []struct {
		marks       []int64
		k           int
		first, last float64
	}{
		{[]int64{10, 20, 30, 40}, 2, 10, 10},
		{[]int64{10, 30, 40, 45, 47}, 2, 15, 3.5},
		{[]int64{10, 20, 30}, 2, 0, 0},
		{[]int64{10, 20}, 0, 0, 0},
	} {
		if f, l := windowOps(c.marks, c.k); f != c.first || l != c.last {
			t.Errorf("windowOps(%v, %d) = %v, %v; want %v, %v", c.marks, c.k, f, l, c.first, c.last)
		}
	}
}
