package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"glint/internal/config"
	"glint/internal/errs"
	"glint/internal/urlfilter/urlfiltertest"
)

// TestHTTPStoreFollowsTheOperatorsFilter: the http store built from the
// configuration follows a redirect only where [import_filtering_opts]
// and http_store_allow_private_targets let a location point (issue 27).
func TestHTTPStoreFollowsTheOperatorsFilter(t *testing.T) {
	w := urlfiltertest.New(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "glance-api.conf")
	ini := fmt.Sprintf("[glance_store]\nstores = file, http\ndefault_store = file\nfilesystem_store_datadir = %s\n"+
		"http_store_allow_private_targets = true\n"+
		"[import_filtering_opts]\nallowed_schemes = http\nallowed_ports = %d, %d\ndisallowed_hosts = 127.0.0.2\n",
		filepath.Join(dir, "images"), urlfiltertest.Port(t, w.Redir), urlfiltertest.Port(t, w.Data))
	if err := os.WriteFile(conf, []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load([]string{conf}, nil)
	if err != nil {
		t.Fatal(err)
	}
	set, err := OpenStores(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := set.Named("http")
	if err != nil {
		t.Fatal(err)
	}
	const storeMaxRedirects = 5 // the http store's bound
	for _, c := range w.Cases(t, storeMaxRedirects) {
		t.Run(c.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			size, err := st.Size(ctx, c.URL)
			rc, gerr := st.Open(ctx, c.URL, 0)
			var got []byte
			if gerr == nil {
				got, _ = io.ReadAll(rc)
				rc.Close()
			}
			switch {
			case c.Refused && (!errs.Is(errs.Forbidden, err) || !errs.Is(errs.Forbidden, gerr)):
				t.Errorf("Size: %v; Get: %v, %q; want both Forbidden", err, gerr, got)
			case !c.Refused && (err != nil || size != int64(len(urlfiltertest.DataBody)) || string(got) != string(urlfiltertest.DataBody)):
				t.Errorf("Size: %d, %v; Get: %v, %d bytes", size, err, gerr, len(got))
			}
		})
	}
	if n := w.SecretHits.Load(); n != 0 {
		t.Errorf("the forbidden server was asked %d times", n)
	}
}
