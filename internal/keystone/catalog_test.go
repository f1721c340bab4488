package keystone

import (
	"context"
	"slices"
	"testing"

	"glint/internal/auth"
	"glint/internal/errs"
	"glint/internal/keystone/keystonetest"
)

// TestCatalog reads a caller's catalog from the real Keystone with the
// caller's token: the image service's endpoints are there, by region and
// interface; a token Keystone does not know is refused.
func TestCatalog(t *testing.T) {
	ks := keystonetest.Start(t)
	ks.SetImageEndpoint(t, "http://127.0.0.1:9292")
	a, _, _ := newAuth(t, ks, nil)
	eps, err := a.Catalog(context.Background(), ks.Token(t, "alpha-member"))
	if err != nil {
		t.Fatal(err)
	}
	for _, iface := range []string{"public", "internal", "admin"} {
		if !slices.ContainsFunc(eps, func(e auth.Endpoint) bool {
			return e.ServiceType == "image" && e.Region == "RegionOne" && e.Interface == iface && e.URL == "http://127.0.0.1:9292"
		}) {
			t.Errorf("no %s image endpoint in RegionOne in %v", iface, eps)
		}
	}
	for _, tok := range []string{"", "not-a-token"} {
		if _, err := a.Catalog(context.Background(), tok); errs.KindOf(err) != errs.Unauthorized {
			t.Errorf("catalog with token %q: %v, want unauthorized", tok, err)
		}
	}
}

func TestParseCatalog(t *testing.T) {
	for _, c := range []struct {
		name, body string
		want       []auth.Endpoint
		bad        bool
	}{
		{"v3", `{"catalog":[{"type":"image","name":"glance","endpoints":[{"interface":"public","region_id":"R1","region":"R1","url":"http://a"},{"interface":"admin","region":"R2","url":"http://b"}]},{"type":"identity","endpoints":[]}]}`,
			[]auth.Endpoint{{ServiceType: "image", Region: "R1", Interface: "public", URL: "http://a"}, {ServiceType: "image", Region: "R2", Interface: "admin", URL: "http://b"}}, false},
		{"no region", `{"catalog":[{"type":"image","endpoints":[{"interface":"public","url":"http://a"}]}]}`,
			[]auth.Endpoint{{ServiceType: "image", Region: "", Interface: "public", URL: "http://a"}}, false},
		{"empty", `{"catalog":[]}`, nil, false},
		{"not json", `<html>`, nil, true},
		{"wrong shape", `{"catalog":{"type":"image"}}`, nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseCatalog([]byte(c.body))
			if (err != nil) != c.bad || !slices.Equal(got, c.want) {
				t.Errorf("parseCatalog = %v, %v; want %v (error %v)", got, err, c.want, c.bad)
			}
		})
	}
}
