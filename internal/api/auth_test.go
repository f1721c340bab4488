package api_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"glint/internal/app"
	"glint/internal/app/apptest"
	"glint/internal/auth"
	"glint/internal/errs"
)

// refuser is an Authenticator that refuses every request with err.
type refuser struct{ err error }

func (f refuser) Authenticate(context.Context, *http.Request) (*auth.Context, error) {
	return nil, f.err
}
func (refuser) Challenge() string { return `Keystone uri="http://ks:5000"` }

// The API's side of authentication failures; the Keystone authenticator
// itself is tested in internal/keystone and test/e2e against a real
// Keystone.
func TestAuthenticationRefused(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		status    int
		challenge bool
		ctype     string
		body      string // substring
	}{
		{"glance 401", errs.E(errs.Op("t"), errs.Unauthorized), 401, true, "application/json",
			"This server could not verify that you are authorized"},
		{"keystonemiddleware 401", errs.E(errs.Op("t"), errs.Unauthorized, &auth.Response{Status: 401,
			ContentType: "application/json; charset=UTF-8", Body: `{"error": {"code": 401}}`}), 401, true,
			"application/json; charset=UTF-8", `{"error": {"code": 401}}`},
		{"keystone down", errs.E(errs.Op("t"), errs.Unavailable, "The Keystone service is temporarily unavailable."), 503, false,
			"application/json", "The Keystone service is temporarily unavailable."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := apptest.New(t, nil, app.WithAuthenticator(refuser{tc.err}))
			req, _ := http.NewRequest(http.MethodGet, g.URL+"/v2/images", nil)
			req.Header.Set("Accept", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != tc.ctype || !strings.Contains(string(body), tc.body) {
				t.Errorf("got %d %q %s, want %d %q containing %q", resp.StatusCode, resp.Header.Get("Content-Type"), body,
					tc.status, tc.ctype, tc.body)
			}
			if got := resp.Header.Get("WWW-Authenticate") != ""; got != tc.challenge {
				t.Errorf("WWW-Authenticate present: %v, want %v", got, tc.challenge)
			}
			if rid := resp.Header.Get("X-Openstack-Request-Id"); rid != "" {
				t.Errorf("request id %q before authentication", rid)
			}
			// Version discovery needs no identity.
			r2, err := http.Get(g.URL + "/versions")
			if err != nil {
				t.Fatal(err)
			}
			r2.Body.Close()
			if r2.StatusCode != http.StatusMultipleChoices && r2.StatusCode != http.StatusOK {
				t.Errorf("/versions: %d", r2.StatusCode)
			}
		})
	}
}
