package urlfilter

import (
	"context"
	"net/netip"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	def := Defaults()
	open := Options{AllowPrivate: true}
	deny := Options{AllowPrivate: true, DisallowedHosts: []string{"127.0.0.1", "Internal.Example."}}
	for _, c := range []struct {
		o    Options
		uri  string
		pass bool
	}{
		{def, "http://example.com/img", true},
		{def, "https://example.com:443/img", true},
		{def, "HTTP://EXAMPLE.com/img", true},
		{def, "http://example.com:8080/img", false},
		{def, "ftp://example.com/img", false},
		{def, "file:///etc/passwd", false},
		{def, "", false},
		{def, "http:///img", false},
		{def, "http://127.0.0.1/img", false},
		{def, "http://[::1]/img", false},
		{def, "http://10.1.2.3/img", false},
		{def, "http://172.16.0.1/img", false},
		{def, "http://192.168.1.1/img", false},
		{def, "http://169.254.169.254/latest", false},
		{def, "http://100.64.0.1/", false},
		{def, "http://0.0.0.0/", false},
		{def, "http://[fe80::1]/", false},
		{def, "http://[fd00::1]/", false},
		{def, "http://[::ffff:10.0.0.1]/", false},
		{def, "http://[64:ff9b::a00:1]/", false},
		{def, "http://8.8.8.8/", true},
		{def, "http://[2001:4860:4860::8888]/", true},
		{open, "http://127.0.0.1:9999/img", true},
		{open, "gopher://127.0.0.1/", true},
		{Options{AllowedHosts: []string{"a.example"}, DisallowedHosts: []string{"a.example"}}, "http://a.example/", true},
		{Options{DisallowedHosts: []string{"b.example"}}, "http://b.example/", false},
		{Options{DisallowedPorts: []int{8080}}, "http://c.example:8080/", false},
		{Options{DisallowedPorts: []int{8080}}, "http://c.example:8081/", true},
		{Options{DisallowedSchemes: []string{"http"}}, "http://c.example/", false},
		// Addresses written so that getaddrinfo reads them as an IPv4
		// address the lists and the address check would not see.
		{def, "http://2130706433/", false},
		{def, "http://0x7f000001/", false},
		{def, "http://0X7F000001/", false},
		{def, "http://0x7f.0.0.1/", false},
		{def, "http://0177.0.0.1/", false},
		{def, "http://017700000001/", false},
		{def, "http://127.1/", false},
		{def, "http://127.000.000.001/", false},
		{def, "http://127.0.0.1./", false},
		{def, "http://0x/", false},
		{def, "http://a.example.0x10/", false},
		{def, "http://[::ffff:127.0.0.1]/", false},
		{def, "http://[::ffff:7f00:1]/", false},
		{def, "http://[::7f00:1]/", false},
		{def, "http://134744072/", false}, // 8.8.8.8, public, but not written as an address
		{def, "http://1example.com/", true},
		{def, "http://example.1a/", true},
		{def, "http://example.com./", true},
		// The host lists see the address a URL reaches, however written.
		{deny, "http://127.0.0.1/", false},
		{deny, "http://[::ffff:127.0.0.1]/", false},
		{deny, "http://[::ffff:7f00:1]/", false},
		{deny, "http://2130706433/", false},
		{deny, "http://internal.example./", false},
		{deny, "http://Internal.Example/", false},
		{deny, "http://127.0.0.2/", true},
		{Options{AllowedHosts: []string{"127.0.0.1"}, AllowPrivate: true}, "http://[::ffff:127.0.0.1]:8/", true},
		{Options{AllowedHosts: []string{"127.0.0.1"}, AllowPrivate: true}, "http://127.1/", false},
		// An address the operator names in allowed_hosts may be private;
		// the others stay refused, and so do ports not allowed.
		{Options{AllowedHosts: []string{"127.0.0.1"}, AllowedPorts: []int{8}}, "http://127.0.0.1:8/img", true},
		{Options{AllowedHosts: []string{"127.0.0.1"}, AllowedPorts: []int{8}}, "http://[::ffff:127.0.0.1]:8/", true},
		{Options{AllowedHosts: []string{"127.0.0.1"}, AllowedPorts: []int{8}}, "http://127.0.0.1:9/img", false},
		{Options{AllowedHosts: []string{"127.0.0.1"}, AllowedPorts: []int{8}}, "http://127.1:8/", false},
		{Options{AllowedHosts: []string{"127.0.0.1", "10.0.0.1"}}, "http://10.0.0.1/", true},
		{Options{AllowedHosts: []string{"127.0.0.1"}}, "http://127.0.0.2/", false},
		{Options{AllowedHosts: []string{"[::1]", "::1"}}, "http://[::1]/", true},
		{Options{DisallowedHosts: []string{"8.8.8.8"}}, "http://127.0.0.1/", false},
	} {
		err := c.o.Check(c.uri)
		if (err == nil) != c.pass {
			t.Errorf("%+v Check(%q) = %v, want pass=%v", c.o, c.uri, err, c.pass)
		}
		if err != nil && !strings.Contains(err.Error(), "does not pass filtering") {
			t.Errorf("message: %v", err)
		}
	}
}

// TestCheckResolve: a web-download host must resolve, to an address a
// fetch may reach, unless the operator named it.
func TestCheckResolve(t *testing.T) {
	for _, c := range []struct {
		o    Options
		uri  string
		pass bool
	}{
		{Defaults(), "http://does-not.exist.invalid/no/possible/way", false},
		{Defaults(), "http://localhost/img", false}, // loopback only
		{Options{AllowedHosts: []string{"localhost"}}, "http://localhost/img", true},
		{Options{AllowPrivate: true}, "http://localhost/img", true},
		{Options{AllowPrivate: true}, "http://does-not.exist.invalid/", false},
		{Defaults(), "http://127.0.0.1/img", false},
		{Options{AllowedHosts: []string{"127.0.0.1"}}, "http://127.0.0.1/img", true},
		{Defaults(), "http://8.8.8.8/img", true}, // an address: nothing to resolve
		{Defaults(), "ftp://8.8.8.8/img", false},
	} {
		err := c.o.CheckResolve(context.Background(), c.uri)
		if (err == nil) != c.pass {
			t.Errorf("%+v CheckResolve(%q) = %v, want pass=%v", c.o, c.uri, err, c.pass)
		}
		if err != nil && !strings.Contains(err.Error(), "URI for web-download does not pass filtering: "+c.uri) {
			t.Errorf("message: %v", err)
		}
	}
}

func TestCheckAddr(t *testing.T) {
	for _, a := range []string{"127.0.0.2", "::1", "10.0.0.1", "224.0.0.1", "ff02::1", "::", "240.0.0.1", "198.18.0.1",
		"172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "fe80::1", "fc00::1",
		"::ffff:127.0.0.1", "::7f00:1", "64:ff9b::7f00:1", "255.255.255.255"} {
		if Defaults().CheckAddr(netip.MustParseAddr(a)) == nil {
			t.Errorf("%s accepted", a)
		}
	}
	for _, a := range []string{"93.184.216.34", "2606:2800:220:1::1", "8.8.8.8", "2001:4860:4860::8888", "::ffff:8.8.8.8"} {
		if err := Defaults().CheckAddr(netip.MustParseAddr(a)); err != nil {
			t.Errorf("%s refused: %v", a, err)
		}
	}
}

// TestCheckDial: the address a connection is made to, after DNS.
func TestCheckDial(t *testing.T) {
	ports := Options{AllowPrivate: true, AllowedPorts: []int{8080}}
	for _, c := range []struct {
		o    Options
		addr string
		ok   bool
	}{
		{Defaults(), "8.8.8.8:443", true},
		{Defaults(), "8.8.8.8:80", true},
		{Defaults(), "8.8.8.8:8080", false},
		{Defaults(), "127.0.0.1:80", false},
		{Defaults(), "[::ffff:127.0.0.1]:80", false},
		{Defaults(), "[fe80::1%eth0]:80", false},
		{ports, "127.0.0.1:8080", true},
		{ports, "127.0.0.1:8081", false},
		{ports, "[::ffff:127.0.0.1]:8081", false},
		// A URL without a port connects to 80 or 443, and Glance does not
		// port-check it.
		{ports, "127.0.0.1:80", true},
		{ports, "127.0.0.1:443", true},
		{Options{AllowPrivate: true, DisallowedPorts: []int{22}}, "127.0.0.1:22", false},
		{Options{AllowPrivate: true, DisallowedHosts: []string{"127.0.0.1"}}, "127.0.0.1:80", false},
		{Options{AllowPrivate: true, DisallowedHosts: []string{"127.0.0.1"}}, "[::ffff:127.0.0.1]:80", false},
		{Options{AllowPrivate: true, DisallowedHosts: []string{"127.0.0.1"}}, "127.0.0.2:80", true},
		// The allow list wins over the deny list, as in Check.
		{Options{AllowPrivate: true, AllowedHosts: []string{"a.example"}, DisallowedHosts: []string{"127.0.0.1"}}, "127.0.0.1:80", true},
		{Defaults(), "not-an-address:80", false},
	} {
		if err := c.o.checkDial(c.addr); (err == nil) != c.ok {
			t.Errorf("%+v checkDial(%s) = %v, want ok=%v", c.o, c.addr, err, c.ok)
		}
	}
}

// FuzzCheck: web-download URIs are user input. Check must not panic, and
// with the defaults it never lets a literal non-public address through.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"http://example.com/x", "http://127.0.0.1/", "http://[::ffff:7f00:1]/", "https://a:443/", "http://%31%32%37.0.0.1/", "http://0x7f.1/"} {
		f.Add(s)
	}
	def := Defaults()
	f.Fuzz(func(t *testing.T, s string) {
		if def.Check(s) != nil {
			return
		}
		if !strings.HasPrefix(strings.ToLower(s), "http") {
			t.Fatalf("%q passed with a non-http scheme", s)
		}
	})
}

// TestRefusalHidesPassword: a refused URL is echoed, as Glance does, but
// without the password it carries (the message goes to the caller and the
// log).
func TestRefusalHidesPassword(t *testing.T) {
	for _, raw := range []string{"http://u:pw-secret@127.0.0.1:1/x", "http://u:pw-secret@exa mple:1/x"} {
		err := Defaults().Check(raw)
		if err == nil || strings.Contains(err.Error(), "pw-secret") || !strings.Contains(err.Error(), "does not pass filtering") {
			t.Errorf("Check(%q) = %v", raw, err)
		}
	}
}
