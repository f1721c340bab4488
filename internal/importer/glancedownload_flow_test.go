package importer_test

// glance-download's flow on the importer itself, over the in-memory
// repositories, a filesystem store and a fake remote Image API: no
// database, no Keystone.

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"glint/internal/auth"
	"glint/internal/image"
	"glint/internal/image/imagetest"
	"glint/internal/importer"
	"glint/internal/importer/importertest"
	"glint/internal/store"
	"glint/internal/store/filesystem"
	"glint/internal/urlfilter"
)

// watchTasks records the image's status at the moment each of its tasks
// is marked failed.
type watchTasks struct {
	*importertest.MemTasks
	repo *imagetest.MemRepo

	mu        sync.Mutex
	atFailure []image.Status
}

func (w *watchTasks) SaveTask(ctx context.Context, t *importer.Task, from importer.TaskStatus) error {
	if t.Status == importer.TaskFailure && t.ImageID != nil {
		if img, err := w.repo.Get(ctx, *t.ImageID); err == nil {
			w.mu.Lock()
			w.atFailure = append(w.atFailure, img.Status)
			w.mu.Unlock()
		}
	}
	return w.MemTasks.SaveTask(ctx, t, from)
}

func TestGlanceDownloadFlow(t *testing.T) {
	data := bytes.Repeat([]byte("remote "), 3000)
	sum := sha512.Sum512(data)
	srcID := uuid.NewString()
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Auth-Token") != "tok" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/v2/images/" + srcID:
			json.NewEncoder(w).Encode(map[string]any{"id": srcID, "status": "active", "size": len(data),
				"disk_format": "raw", "container_format": "bare", "os_hash_algo": "sha512", "os_hash_value": hex.EncodeToString(sum[:]),
				"hw_cpu_cores": "5", "os_distro": "rhel", "speed": "88mph", "os_glance_import_task": "x", "min_ram": 7})
		case "/v2/images/" + srcID + "/file":
			w.Write(data)
		default:
			http.NotFound(w, r)
		}
	}))
	defer remote.Close()
	u, _ := url.Parse(remote.URL)
	_, p, _ := net.SplitHostPort(u.Host)
	rport, _ := strconv.Atoi(p)

	repo := imagetest.NewMemRepo()
	fs, err := filesystem.New(t.TempDir(), 0o640)
	if err != nil {
		t.Fatal(err)
	}
	set := store.NewSet(fs)
	log := slog.New(slog.DiscardHandler)
	svc := image.NewService(repo, set, nil, image.Options{ImageSizeCap: 1 << 30, HashingAlgorithm: "sha512",
		PropertyQuota: -1, TagQuota: -1, MemberQuota: -1, LocationQuota: -1,
		DiskFormats: image.DefaultDiskFormats, ContainerFormats: image.DefaultContainerFormats}, log)
	tasks := &watchTasks{MemTasks: importertest.NewMemTasks(), repo: repo}
	methods := []string{importer.MethodGlanceDownload}
	im, err := importer.New(svc, repo, tasks, set, importer.Options{Methods: methods, StagingDir: t.TempDir(),
		Filter:             urlfilter.Options{AllowedSchemes: []string{"http"}, AllowedHosts: []string{"127.0.0.1"}, AllowedPorts: []int{rport}},
		DownloadProperties: importer.DefaultDownloadProperties,
		Catalog: func(context.Context, string) ([]auth.Endpoint, error) {
			return []auth.Endpoint{{ServiceType: "image", Region: "R2", Interface: "public", URL: remote.URL}}, nil
		}}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	ctx := auth.With(context.Background(), &auth.Context{UserID: "u", ProjectID: "p", Roles: []string{"member"}, AuthToken: "tok"})

	run := func(remoteID string) *image.Image {
		t.Helper()
		img, err := svc.Create(ctx, map[string]any{"name": "dst", "disk_format": "iso", "container_format": "ovf", "hw_cpu_cores": "1"})
		if err != nil {
			t.Fatal(err)
		}
		req, err := importer.ParseRequest([]byte(`{"method":{"name":"glance-download","glance_region":"R2","glance_image_id":"`+remoteID+`"}}`), methods)
		if err != nil {
			t.Fatal(err)
		}
		if err := im.Import(ctx, img.ID, req); err != nil {
			t.Fatal(err)
		}
		im.Wait()
		got, err := repo.Get(ctx, img.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	img := run(srcID)
	if img.Status != image.Active || *img.Size != int64(len(data)) || *img.DiskFormat != "raw" || *img.ContainerFormat != "bare" ||
		*img.OSHashValue != hex.EncodeToString(sum[:]) {
		t.Errorf("imported image: %+v", img)
	}
	for k, want := range map[string]string{"hw_cpu_cores": "5", "os_distro": "rhel", "speed": "", "os_glance_import_task": ""} {
		if img.Properties[k] != want {
			t.Errorf("property %s = %q, want %q", k, img.Properties[k], want)
		}
	}

	img = run(uuid.NewString()) // 404 on the remote
	if img.Status != image.Queued || *img.DiskFormat != "iso" || img.Properties["hw_cpu_cores"] != "1" {
		t.Errorf("after a failed import: %+v", img)
	}
	ts, _ := tasks.ImageTasks(ctx, img.ID)
	if len(ts) != 1 || ts[0].Status != importer.TaskFailure || !strings.Contains(ts[0].Message, "404") {
		t.Errorf("tasks %+v", ts)
	}
	// A client that sees the task failed sees the image queued: the image
	// is released before the task is marked.
	if len(tasks.atFailure) != 1 || tasks.atFailure[0] != image.Queued {
		t.Errorf("image status when its task failed: %v, want [queued]", tasks.atFailure)
	}
}
