package api

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// The import forwarder carries the caller's token: it must not follow a
// stage host's redirect anywhere else.
func TestProxyClientFollowsNoRedirect(t *testing.T) {
	var leaked bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = r.Header.Get("X-Auth-Token") != ""
	}))
	defer elsewhere.Close()
	stage := httptest.NewServer(http.RedirectHandler(elsewhere.URL, http.StatusTemporaryRedirect))
	defer stage.Close()
	req, _ := http.NewRequest(http.MethodPost, stage.URL, nil)
	req.Header.Set("X-Auth-Token", "secret")
	resp, err := newProxyClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || leaked {
		t.Errorf("status %d, token sent on: %v", resp.StatusCode, leaked)
	}
}
