// Package s3 stores images as objects in an S3 or S3-compatible bucket,
// at Glance's locations s3[+http|+https]://access:secret@host/bucket/id.
// Images above the large-object size, or of unknown size that outgrow one
// part, go up as multipart uploads, one part buffered at a time per worker.
package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"glint/internal/errs"
	"glint/internal/store"
)

// Options are glance_store's s3_store_* options.
type Options struct {
	Host            string // s3_store_host: URL or host[:port]; no scheme means https
	AccessKey       string
	SecretKey       string
	Bucket          string
	Region          string // empty means us-east-1
	CreateBucket    bool   // s3_store_create_bucket_on_put
	URLFormat       string // auto, path or virtual
	LargeObjectSize int64  // bytes; from s3_store_large_object_size (MB)
	ChunkSize       int64  // bytes; from s3_store_large_object_chunk_size (MB)
	Workers         int    // s3_store_thread_pools: parts uploaded at once
	HTTPClient      *http.Client
}

// Driver is an S3 store.
type Driver struct {
	opts     Options
	client   *s3.Client
	scheme   string // s3, s3+http or s3+https, from the host
	hostPart string // host[:port][/path] as it appears in locations
}

const minPart = 5 << 20 // S3's smallest part but the last

// New builds a driver; it does not contact the server (Check does).
func New(o Options) (*Driver, error) {
	const op errs.Op = "s3.New"
	if o.Host == "" || o.Bucket == "" || o.AccessKey == "" || o.SecretKey == "" {
		return nil, errs.E(op, errs.Invalid, "the S3 store needs s3_store_host, s3_store_access_key, s3_store_secret_key and s3_store_bucket")
	}
	d := &Driver{opts: o, scheme: "s3"}
	endpoint := o.Host
	switch {
	case strings.HasPrefix(o.Host, "https://"):
		d.scheme, d.hostPart = "s3+https", strings.TrimPrefix(o.Host, "https://")
	case strings.HasPrefix(o.Host, "http://"):
		d.scheme, d.hostPart = "s3+http", strings.TrimPrefix(o.Host, "http://")
	default:
		d.hostPart, endpoint = o.Host, "https://"+o.Host
	}
	d.hostPart = strings.TrimSuffix(d.hostPart, "/")
	if _, err := url.Parse(endpoint); err != nil {
		return nil, errs.E(op, errs.Invalid, "bad s3_store_host", err)
	}
	switch {
	case d.opts.ChunkSize <= 0:
		d.opts.ChunkSize = 10 << 20 // glance_store's default
	case d.opts.ChunkSize < minPart:
		d.opts.ChunkSize = minPart
	}
	if d.opts.LargeObjectSize <= 0 {
		d.opts.LargeObjectSize = 100 << 20
	}
	if d.opts.Workers <= 0 {
		d.opts.Workers = 10
	}
	if d.opts.Region == "" {
		d.opts.Region = "us-east-1"
	}
	pathStyle := o.URLFormat == "path"
	if o.URLFormat == "" || o.URLFormat == "auto" {
		// Virtual-hosted style needs DNS for bucket.host, which an IP
		// address or a name without dots never has.
		u, _ := url.Parse(endpoint)
		h := u.Hostname()
		pathStyle = !strings.Contains(h, ".") || isIP(h) || strings.Contains(o.Bucket, ".")
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	d.client = s3.New(s3.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       d.opts.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(o.AccessKey, o.SecretKey, ""),
		UsePathStyle: pathStyle,
		HTTPClient:   hc,
		// Checksums only where S3 requires them: many S3-compatible
		// servers (older radosgw, Swift's s3api) reject the trailers.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		RetryMaxAttempts:           3,
	})
	return d, nil
}

func isIP(h string) bool {
	return strings.Trim(h, "0123456789.") == "" || strings.Contains(h, ":")
}

// Scheme implements store.Driver.
func (d *Driver) Scheme() string { return d.scheme }

var (
	_ store.Writable = (*Driver)(nil)
	_ store.Owner    = (*Driver)(nil)
)

// Bucket is the bucket the driver writes to.
func (d *Driver) Bucket() string { return d.opts.Bucket }

// Client is the underlying S3 client, for tests and tools.
func (d *Driver) Client() *s3.Client { return d.client }

// ErrorKind implements store.Driver: S3's error codes, or failing those
// the HTTP status, say what went wrong.
func (d *Driver) ErrorKind(err error) errs.Kind {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound", "NoSuchUpload":
			return errs.NotFound
		case "NoSuchBucket":
			return errs.Unavailable // the store is broken, not the image missing
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken":
			return errs.Unauthorized
		case "AccessDenied", "Forbidden":
			return errs.Forbidden
		case "PreconditionFailed", "ConditionalRequestConflict":
			return errs.Conflict
		case "EntityTooLarge", "QuotaExceeded":
			return errs.TooLarge
		}
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusNotFound:
			return errs.NotFound
		case http.StatusForbidden:
			return errs.Unauthorized
		case http.StatusPreconditionFailed:
			return errs.Conflict
		}
	}
	switch {
	case errors.Is(err, errExists):
		return errs.Conflict
	case errors.Is(err, errForeign):
		return errs.NotFound
	case errors.Is(err, errBadLocation):
		return errs.Invalid
	}
	return errs.Unavailable
}

var (
	errExists      = errors.New("S3 already has an image of this id")
	errForeign     = errors.New("S3 location is on another server than this store's")
	errBadLocation = errors.New("bad S3 location")
)

// describe puts words an operator can act on around a failure of Check.
func (d *Driver) describe(what string, err error) error {
	switch d.ErrorKind(err) {
	case errs.Unauthorized:
		return fmt.Errorf("%s: the S3 server rejected the credentials (s3_store_access_key / s3_store_secret_key): %w", what, err)
	case errs.Forbidden:
		return fmt.Errorf("%s: access denied by the S3 server; check the credentials and the bucket policy: %w", what, err)
	case errs.Unavailable:
		return fmt.Errorf("%s: the S3 server failed or is unreachable: %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Check makes sure the bucket is there (creating it if allowed) and that
// an object can be written and removed.
func (d *Driver) Check(ctx context.Context) error {
	what := fmt.Sprintf("S3 store %s bucket %s", d.opts.Host, d.opts.Bucket)
	_, err := d.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &d.opts.Bucket})
	if err != nil {
		if d.ErrorKind(err) != errs.NotFound && !isNoBucket(err) {
			return d.describe(what, err)
		}
		if !d.opts.CreateBucket {
			return fmt.Errorf("%s: the bucket does not exist and s3_store_create_bucket_on_put is false: %w", what, err)
		}
		if _, err := d.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &d.opts.Bucket}); err != nil {
			var owned *types.BucketAlreadyOwnedByYou
			if !errors.As(err, &owned) {
				return d.describe(what+": cannot create the bucket", err)
			}
		}
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	key := ".glint-probe-" + hex.EncodeToString(rnd[:])
	if _, err := d.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &d.opts.Bucket, Key: &key, Body: bytes.NewReader([]byte("probe"))}); err != nil {
		return d.describe(what+": not writable", err)
	}
	if _, err := d.client.DeleteObject(context.WithoutCancel(ctx), &s3.DeleteObjectInput{Bucket: &d.opts.Bucket, Key: &key}); err != nil {
		return d.describe(what+": cannot delete", err)
	}
	return nil
}

func isNoBucket(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "NoSuchBucket" || ae.ErrorCode() == "NotFound")
}

func (d *Driver) location(key string) string {
	cred := url.QueryEscape(d.opts.AccessKey) + ":" + url.QueryEscape(d.opts.SecretKey) + "@"
	return d.scheme + "://" + cred + d.hostPart + "/" + d.opts.Bucket + "/" + key
}

// parse returns the bucket and key of a location. Like glance_store it
// splits at the last '@', since secret keys may hold '/'.
func (d *Driver) parse(loc string) (bucket, key string, err error) {
	scheme, rest, ok := strings.Cut(loc, "://")
	if !ok || (scheme != "s3" && scheme != "s3+http" && scheme != "s3+https") {
		return "", "", errBadLocation
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	if !strings.HasPrefix(rest, d.hostPart+"/") {
		return "", "", errForeign
	}
	rest = strings.TrimPrefix(rest, d.hostPart+"/")
	bucket, key, ok = strings.Cut(rest, "/")
	if !ok || bucket == "" || key == "" {
		return "", "", fmt.Errorf("%w: no bucket/key", errBadLocation)
	}
	return bucket, key, nil
}

// Owns implements store.Owner.
func (d *Driver) Owns(loc string) bool {
	b, _, err := d.parse(loc)
	return err == nil && b == d.opts.Bucket
}

func (d *Driver) exists(ctx context.Context, key string) (bool, error) {
	_, err := d.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &d.opts.Bucket, Key: &key})
	if err == nil {
		return true, nil
	}
	if d.ErrorKind(err) == errs.NotFound {
		return false, nil
	}
	return false, err
}

// Add implements store.Writable.
func (d *Driver) Add(ctx context.Context, imageID string, r io.Reader, size int64) (string, int64, error) {
	key := imageID
	if ok, err := d.exists(ctx, key); err != nil {
		return "", 0, err
	} else if ok {
		return "", 0, errExists
	}
	var n int64
	var err error
	if size >= 0 && size < d.opts.LargeObjectSize {
		n, err = d.putStream(ctx, key, r, size)
	} else {
		n, err = d.putMultipart(ctx, key, r)
	}
	if err != nil {
		return "", n, err
	}
	return d.location(key), n, nil
}

// putStream sends an object of known size in one request, streaming the
// body unsigned so that it need not be buffered to be hashed first (the
// Store holds r to size).
func (d *Driver) putStream(ctx context.Context, key string, r io.Reader, size int64) (int64, error) {
	body := &bodyReader{r: r}
	_, err := d.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &d.opts.Bucket, Key: &key, Body: body, ContentLength: aws.Int64(size),
		IfNoneMatch: aws.String("*"),
	}, s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware))
	if err != nil {
		if (body.err != nil || ctx.Err() != nil) && d.ErrorKind(err) != errs.Conflict {
			// The request was cut short. S3 discards a body shorter than
			// its Content-Length, but not every S3 server does (versitygw
			// keeps what it got): what may have been stored is removed.
			// It can only be this write's: the key was free when Add
			// began, and the image service writes one image at a time.
			d.client.DeleteObject(context.WithoutCancel(ctx), &s3.DeleteObjectInput{Bucket: &d.opts.Bucket, Key: &key})
		}
		return 0, err
	}
	return size, nil
}

// bodyReader keeps the error of a request body.
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// putMultipart reads parts of ChunkSize and uploads up to Workers at
// once. When the first part holds the whole stream it is a plain PUT.
func (d *Driver) putMultipart(ctx context.Context, key string, r io.Reader) (int64, error) {
	chunk := d.opts.ChunkSize
	first := make([]byte, chunk)
	n, err := io.ReadFull(r, first)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return int64(n), err
	}
	if int64(n) < chunk {
		_, err := d.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &d.opts.Bucket, Key: &key, Body: bytes.NewReader(first[:n]), IfNoneMatch: aws.String("*"),
		})
		return int64(n), err
	}
	up, err := d.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &d.opts.Bucket, Key: &key})
	if err != nil {
		return int64(n), err
	}
	total, err := d.uploadParts(ctx, key, up.UploadId, r, first)
	if err != nil {
		// A failed upload must leave nothing behind, even when the caller
		// has gone.
		d.client.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{Bucket: &d.opts.Bucket, Key: &key, UploadId: up.UploadId})
	}
	return total, err
}

func (d *Driver) uploadParts(ctx context.Context, key string, uploadID *string, r io.Reader, first []byte) (int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	chunk := d.opts.ChunkSize
	// Buffers are recycled: at most Workers+1 parts are in memory.
	free := make(chan []byte, d.opts.Workers+1)
	for range d.opts.Workers {
		free <- make([]byte, chunk)
	}
	var (
		mu    sync.Mutex
		parts []types.CompletedPart
		wg    sync.WaitGroup
		sem   = make(chan struct{}, d.opts.Workers)
	)
	upload := func(num int32, buf []byte, n int) {
		defer wg.Done()
		defer func() { <-sem; free <- buf }()
		out, err := d.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: &d.opts.Bucket, Key: &key, UploadId: uploadID, PartNumber: aws.Int32(num),
			Body: bytes.NewReader(buf[:n]), ContentLength: aws.Int64(int64(n)),
		})
		if err != nil {
			cancel(err)
			return
		}
		mu.Lock()
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
		mu.Unlock()
	}
	var total int64
	buf, n := first, len(first)
	var readErr error
	for num := int32(1); ; num++ {
		total += int64(n)
		sem <- struct{}{}
		wg.Add(1)
		go upload(num, buf, n)
		if readErr != nil || int64(n) < chunk {
			break
		}
		select {
		case buf = <-free:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		n, readErr = io.ReadFull(r, buf)
		if readErr == io.EOF || readErr == io.ErrUnexpectedEOF {
			readErr = nil
			if n == 0 {
				free <- buf
				break
			}
			// The last part: upload it, then stop.
			total += int64(n)
			sem <- struct{}{}
			wg.Add(1)
			go upload(num+1, buf, n)
			break
		}
		if readErr != nil {
			cancel(readErr)
			break
		}
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return total, err
	}
	sortParts(parts)
	_, err := d.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &d.opts.Bucket, Key: &key, UploadId: uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		IfNoneMatch:     aws.String("*"),
	})
	return total, err
}

func sortParts(p []types.CompletedPart) {
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && *p[j].PartNumber < *p[j-1].PartNumber; j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
}

// Get implements store.Driver with a ranged GET.
func (d *Driver) Get(ctx context.Context, loc string, offset int64) (io.ReadCloser, error) {
	bucket, key, err := d.parse(loc)
	if err != nil {
		return nil, err
	}
	in := &s3.GetObjectInput{Bucket: &bucket, Key: &key}
	if offset > 0 {
		size, err := d.Size(ctx, loc)
		if err != nil {
			return nil, err
		}
		if offset >= size {
			return io.NopCloser(strings.NewReader("")), nil
		}
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	out, err := d.client.GetObject(ctx, in)
	if err != nil {
		return nil, err
	}
	return out.Body, nil
}

// Size implements store.Driver.
func (d *Driver) Size(ctx context.Context, loc string) (int64, error) {
	bucket, key, err := d.parse(loc)
	if err != nil {
		return 0, err
	}
	out, err := d.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return 0, err
	}
	return aws.ToInt64(out.ContentLength), nil
}

// Delete implements store.Writable. S3 deletes of missing keys succeed, so
// existence is checked first, to report NotFound as the interface asks.
func (d *Driver) Delete(ctx context.Context, loc string) error {
	bucket, key, err := d.parse(loc)
	if err != nil {
		return err
	}
	if _, err := d.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key}); err != nil {
		return err
	}
	_, err = d.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key})
	return err
}
