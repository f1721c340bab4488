package importer

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"glint/internal/auth"
	"glint/internal/errs"
)

// TestRemoteEndpoint: glance-download finds the remote Image API as
// Glance does, an image service's endpoint in the region (without case)
// for the interface, and fails without a token or catalog.
func TestRemoteEndpoint(t *testing.T) {
	catalog := []auth.Endpoint{
		{ServiceType: "identity", Region: "R2", Interface: "public", URL: "http://ks"},
		{ServiceType: "image", Region: "", Interface: "public", URL: "http://noregion"},
		{ServiceType: "image", Region: "R1", Interface: "public", URL: "http://r1/"},
		{ServiceType: "image", Region: "R2", Interface: "internal", URL: "http://r2-internal"},
		{ServiceType: "image", Region: "R2", Interface: "public", URL: "http://r2"},
	}
	var gotToken string
	ok := func(_ context.Context, tok string) ([]auth.Endpoint, error) { gotToken = tok; return catalog, nil }
	down := func(context.Context, string) ([]auth.Endpoint, error) {
		return nil, errs.E(errs.Unavailable, "keystone down")
	}
	user := &auth.Context{AuthToken: "tok"}
	for _, c := range []struct {
		name          string
		catalog       CatalogFunc
		caller        *auth.Context
		region, iface string
		want          string
		kind          errs.Kind
	}{
		{"public", ok, user, "R2", "public", "http://r2", 0},
		{"region without case, trailing slash dropped", ok, user, "r1", "public", "http://r1", 0},
		{"internal", ok, user, "R2", "internal", "http://r2-internal", 0},
		{"interface with case", ok, user, "R2", "Public", "", errs.NotFound},
		{"unknown region", ok, user, "R3", "public", "", errs.NotFound},
		{"empty region", ok, user, "", "public", "", errs.NotFound},
		{"bad interface", ok, user, "R2", "not an interface", "", errs.NotFound},
		{"no catalog", nil, user, "R2", "public", "", errs.Unavailable},
		{"no token", ok, &auth.Context{}, "R2", "public", "", errs.Unavailable},
		{"keystone down", down, user, "R2", "public", "", errs.Unavailable},
	} {
		t.Run(c.name, func(t *testing.T) {
			im := &Importer{opts: Options{Catalog: c.catalog}}
			got, err := im.remoteEndpoint(context.Background(), c.caller, c.region, c.iface)
			if got != c.want || errs.KindOf(err) != c.kind && !(c.kind == 0 && err == nil) {
				t.Errorf("remoteEndpoint = %q, %v (kind %v); want %q, kind %v", got, err, errs.KindOf(err), c.want, c.kind)
			}
			if c.want != "" && gotToken != "tok" {
				t.Errorf("catalog read with token %q", gotToken)
			}
		})
	}
}

func TestRemoteSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{`12`, 12, false}, {`0`, 0, false}, {`-1`, 0, true}, {`1.5`, 0, true}, {`"12"`, 0, true}, {`null`, 0, true},
		{`99999999999999999999`, 0, true},
	} {
		var v any
		dec := json.NewDecoder(strings.NewReader(c.in))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		got, err := remoteSize(v)
		if got != c.want || (err != nil) != c.bad {
			t.Errorf("remoteSize(%s) = %d, %v; want %d (error %v)", c.in, got, err, c.want, c.bad)
		}
	}
}
