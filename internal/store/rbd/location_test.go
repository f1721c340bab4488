package rbd

import (
	"strings"
	"testing"
)

func TestParseLocation(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Location
		ok   bool
	}{
		{"rbd://f1d/images/0b3c/snap", Location{"f1d", "images", "0b3c", "snap"}, true},
		{"rbd://f1d/my%20pool/img%2Fx/snap", Location{"f1d", "my pool", "img/x", "snap"}, true},
		{"rbd://0b3c", Location{Image: "0b3c"}, true},
		{"rbd://", Location{}, false},
		{"rbd://a/b", Location{}, false},
		{"rbd://a/b/c", Location{}, false},
		{"rbd://a/b/c/d/e", Location{}, false},
		{"rbd://a//c/d", Location{}, false},
		{"rbd://a/b/c/", Location{}, false},
		{"rbd://a/b/%zz/d", Location{}, false},
		{"file:///x", Location{}, false},
		{"RBD://x", Location{}, false},
	} {
		got, err := ParseLocation(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseLocation(%q) = %+v, %v; want %+v, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestLocationString(t *testing.T) {
	for _, c := range []struct {
		l    Location
		want string
	}{
		{Location{"f1d", "images", "0b3c", "snap"}, "rbd://f1d/images/0b3c/snap"},
		{Location{"f1d", "my pool", "a/b", "snap"}, "rbd://f1d/my%20pool/a%2Fb/snap"},
		{Location{Image: "0b3c"}, "rbd://0b3c"},
	} {
		if got := c.l.String(); got != c.want {
			t.Errorf("%+v.String() = %q, want %q", c.l, got, c.want)
		}
	}
}

// FuzzParseLocation: locations come from users (JSON patch) and from a
// database shared with Glance; parsing never panics, and what parses in
// the four-part form writes back to a location that parses the same.
func FuzzParseLocation(f *testing.F) {
	for _, s := range []string{"rbd://f/p/i/snap", "rbd://i", "rbd://a/b%2F/c/d", "rbd:///", "rbd://%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLocation(s)
		if err != nil {
			return
		}
		if l.FSID == "" {
			if strings.Contains(l.Image, "/") || l.Image == "" {
				t.Fatalf("old form %q gave image %q", s, l.Image)
			}
			return
		}
		back, err := ParseLocation(l.String())
		if err != nil || back != l {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, l, l.String(), back, err)
		}
	})
}
