package swift_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	ncw "github.com/ncw/swift/v2"

	"glint/internal/errs"
	"glint/internal/store"
	"glint/internal/store/storetest"
	"glint/internal/store/storetest/testserver"
	"glint/internal/store/swift"
)

// One Swift for the package: starting it takes a while.
func TestSwift(t *testing.T) {
	srv := testserver.StartSwift(t)
	t.Run("SingleTenant", func(t *testing.T) { singleTenant(t, srv) })
	t.Run("MultiTenant", func(t *testing.T) { multiTenant(t, srv) })
	t.Run("ContainersSeed", func(t *testing.T) { containersSeed(t, srv) })
	t.Run("GlanceDLO", func(t *testing.T) { glanceDLO(t, srv) })
	t.Run("MissingContainer", func(t *testing.T) { missingContainer(t, srv) })
}

func single(t *testing.T, srv *testserver.Swift, container, key string, create bool) *swift.Driver {
	t.Helper()
	d, err := swift.New(swift.Options{
		Reference: "ref1", AuthAddress: srv.AuthURL, User: "glint:tester", Key: key, AuthVersion: 1,
		Container: container, CreateContainer: create, LargeObjectSize: 8 << 20, ChunkSize: 5 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func admin(t *testing.T, srv *testserver.Swift, user string) *ncw.Connection {
	c := &ncw.Connection{UserName: user, ApiKey: srv.Users[user], AuthUrl: srv.AuthURL, AuthVersion: 1}
	if err := c.Authenticate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

// leftovers lists the objects of every container whose name starts with prefix.
func leftovers(t *testing.T, c *ncw.Connection, prefix string) []string {
	names, err := c.ContainerNamesAll(context.Background(), &ncw.ContainersOpts{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, cn := range names {
		objs, err := c.ObjectNamesAll(context.Background(), cn, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			left = append(left, cn+"/"+o)
		}
	}
	return left
}

func singleTenant(t *testing.T, srv *testserver.Swift) {
	var n atomic.Int64
	adm := admin(t, srv, "glint:tester")
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) store.Driver {
			d := single(t, srv, fmt.Sprintf("glance%d", n.Add(1)), "testing", true)
			if err := d.Check(t.Context()); err != nil {
				t.Fatal(err)
			}
			return d
		},
		Leftovers: func(t *testing.T, d store.Driver) []string {
			return leftovers(t, adm, d.(*swift.Driver).Options().Container)
		},
		BadCredentials: func(t *testing.T) store.Driver { return single(t, srv, "glance-bad", "wrong", true) },
		SmallSizes:     []int64{5 << 20, 5<<20 + 1, 8 << 20, 11<<20 + 3},
	})
}

func multiTenant(t *testing.T, srv *testserver.Swift) {
	// The caller's token and storage URL, as Keystone would give them.
	user := admin(t, srv, "other:tester")
	var n atomic.Int64
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) store.Driver {
			d, err := swift.New(swift.Options{
				MultiTenant: true, Container: fmt.Sprintf("mt%d", n.Add(1)), LargeObjectSize: 8 << 20, ChunkSize: 5 << 20,
				Credentials: func(context.Context) (string, string, error) { return user.StorageUrl, user.AuthToken, nil },
			})
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
		Leftovers: func(t *testing.T, d store.Driver) []string {
			return leftovers(t, user, d.(*swift.Driver).Options().Container+"_")
		},
		SmallSizes: []int64{5<<20 + 1},
		BigSize:    256 << 20, // the big stream runs single-tenant; the layout is what differs here
	})
	// The image lives in its owner's account, in a container of its own.
	d, _ := swift.New(swift.Options{MultiTenant: true, Container: "glance",
		Credentials: func(context.Context) (string, string, error) { return user.StorageUrl, user.AuthToken, nil }})
	loc, _, err := d.Add(t.Context(), "img1", strings.NewReader("data"), 4)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(user.StorageUrl, "http://", "swift+http://", 1) + "/glance_img1/img1"; loc != want {
		t.Errorf("location %s, want %s", loc, want)
	}
	if err := d.Delete(t.Context(), loc); err != nil {
		t.Fatal(err)
	}
	if _, _, err := user.Container(t.Context(), "glance_img1"); err == nil {
		t.Error("the per-image container outlived its image")
	}
	// Without a caller's token there is nothing to write with.
	d2, _ := swift.New(swift.Options{MultiTenant: true, Endpoint: srv.Proxy + "/v1/AUTH_%(tenant_id)s"})
	st := &store.Store{Name: "mt", Driver: d2}
	if _, err := st.Write(t.Context(), "img2", strings.NewReader("x"), 1, "sha512"); !errs.Is(errs.Unauthorized, err) {
		t.Errorf("multi-tenant Write without a token: %v", err)
	}
	if err := d2.Check(t.Context()); err != nil {
		t.Errorf("multi-tenant Check of a reachable endpoint: %v", err)
	}
}

// With a seed, images spread over containers named after their ids.
func containersSeed(t *testing.T, srv *testserver.Swift) {
	d, err := swift.New(swift.Options{Reference: "ref1", AuthAddress: srv.AuthURL, User: "glint:tester", Key: "testing",
		AuthVersion: 1, Container: "seeded", ContainersSeed: 2, CreateContainer: true})
	if err != nil {
		t.Fatal(err)
	}
	loc, _, err := d.Add(t.Context(), "ab12", strings.NewReader("x"), 1)
	if err != nil {
		t.Fatal(err)
	}
	if loc != "swift+config://ref1/seeded_ab/ab12" {
		t.Errorf("location %s", loc)
	}
	d.Delete(t.Context(), loc)
}

// An image Glance wrote as a dynamic large object reads and deletes whole.
func glanceDLO(t *testing.T, srv *testserver.Swift) {
	c := admin(t, srv, "glint:tester")
	ctx := t.Context()
	c.ContainerCreate(ctx, "dlo", nil)
	for i, part := range []string{"hello ", "glance ", "dlo"} {
		if err := c.ObjectPutString(ctx, "dlo", fmt.Sprintf("img-%05d", i+1), part, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.ObjectPut(ctx, "dlo", "img", strings.NewReader(""), false, "", "", ncw.Headers{"X-Object-Manifest": "dlo/img-"}); err != nil {
		t.Fatal(err)
	}
	d := single(t, srv, "dlo", "testing", false)
	loc := "swift+config://ref1/dlo/img"
	rc, err := d.Get(ctx, loc, 6)
	if err != nil {
		t.Fatal(err)
	}
	b := new(strings.Builder)
	fmt.Fprint(b, "")
	buf := make([]byte, 64)
	for {
		n, err := rc.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	rc.Close()
	if b.String() != "glance dlo" {
		t.Errorf("read %q", b.String())
	}
	if err := d.Delete(ctx, loc); err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, c, "dlo"); len(left) > 0 {
		t.Errorf("left after deleting a DLO: %v", left)
	}
}

func missingContainer(t *testing.T, srv *testserver.Swift) {
	d := single(t, srv, "nosuchcontainer", "testing", false)
	if err := d.Check(t.Context()); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Check of a missing container: %v", err)
	}
}
