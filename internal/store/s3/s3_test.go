package s3_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"glint/internal/errs"
	"glint/internal/store"
	s3store "glint/internal/store/s3"
	"glint/internal/store/storetest"
	"glint/internal/store/storetest/testserver"
)

func newDriver(t *testing.T, srv *testserver.S3, bucket, secret string) *s3store.Driver {
	t.Helper()
	d, err := s3store.New(s3store.Options{
		Host: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: secret, Bucket: bucket,
		CreateBucket: true, LargeObjectSize: 8 << 20, ChunkSize: 5 << 20, Workers: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestConformance(t *testing.T) {
	srv := testserver.StartS3(t)
	var n atomic.Int64
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) store.Driver {
			d := newDriver(t, srv, fmt.Sprintf("glint-%d", n.Add(1)), srv.Secret)
			if err := d.Check(t.Context()); err != nil {
				t.Fatal(err)
			}
			return d
		},
		Leftovers: func(t *testing.T, sd store.Driver) []string {
			d := sd.(*s3store.Driver)
			var left []string
			b := d.Bucket()
			objs, err := d.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &b})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range objs.Contents {
				left = append(left, *o.Key)
			}
			ups, err := d.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &b})
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range ups.Uploads {
				left = append(left, "upload:"+*u.Key)
			}
			return left
		},
		BadCredentials: func(t *testing.T) store.Driver {
			return newDriver(t, srv, "glint-badcreds", "not-the-secret")
		},
		// Around the part size (5 MiB) and the large-object threshold (8 MiB).
		SmallSizes: []int64{5 << 20, 5<<20 + 1, 8 << 20, 12<<20 + 3},
		// The locations hold the keys; errors must not.
		Secrets: []string{srv.Secret, "not-the-secret"},
	})
}

func TestLocations(t *testing.T) {
	for _, c := range []struct{ host, want string }{
		{"http://127.0.0.1:9000", "s3+http://AK:S%2FK@127.0.0.1:9000/bkt/img"},
		{"https://s3.example.com", "s3+https://AK:S%2FK@s3.example.com/bkt/img"},
		{"s3.example.com", "s3://AK:S%2FK@s3.example.com/bkt/img"},
	} {
		d, err := s3store.New(s3store.Options{Host: c.host, AccessKey: "AK", SecretKey: "S/K", Bucket: "bkt"})
		if err != nil {
			t.Fatal(err)
		}
		if !d.Owns(c.want) {
			t.Errorf("%s does not own %s", c.host, c.want)
		}
		if d.Owns(strings.Replace(c.want, "/bkt/", "/other/", 1)) {
			t.Errorf("%s owns another bucket's location", c.host)
		}
		// glance_store splits at the last @, since secrets may hold '/'.
		if !d.Owns(strings.Replace(c.want, "S%2FK", "S/K", 1)) {
			t.Errorf("%s does not own a location with a raw '/' in the secret", c.host)
		}
	}
	if _, err := s3store.New(s3store.Options{Host: "h"}); !errs.Is(errs.Invalid, err) {
		t.Errorf("New without credentials: %v", err)
	}
}

// Without s3_store_create_bucket_on_put a missing bucket is a clear start-up error.
func TestMissingBucket(t *testing.T) {
	srv := testserver.StartS3(t)
	d, err := s3store.New(s3store.Options{Host: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.Secret, Bucket: "nobucket"})
	if err != nil {
		t.Fatal(err)
	}
	err = d.Check(t.Context())
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Check on a missing bucket: %v", err)
	}
}
