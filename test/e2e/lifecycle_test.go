package e2e

import (
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// client is one CLI's way of doing each step of an image's life. Every
// function runs the real CLI; the test asserts on its output or, where
// the CLI prints nothing useful, on the API over HTTP.
type client struct {
	name       string
	create     func(t *testing.T, s *server, name, file string) string // returns the id
	list       func(t *testing.T, s *server) []string                  // ids listed
	show       func(t *testing.T, s *server, id string) map[string]string
	setProp    func(t *testing.T, s *server, id, k, v string)
	unsetProp  func(t *testing.T, s *server, id, k string)
	addTag     func(t *testing.T, s *server, id, tag string)
	deleteTag  func(t *testing.T, s *server, id, tag string)
	download   func(t *testing.T, s *server, id, path string)
	deactivate func(t *testing.T, s *server, id string)
	reactivate func(t *testing.T, s *server, id string)
	protect    func(t *testing.T, s *server, id string, on bool)
	delete     func(t *testing.T, s *server, id string) cliResult
	// forbidden checks the output of a delete refused with 403.
	forbidden func(t *testing.T, r cliResult)
	// showGone runs show on a deleted image and checks it fails as
	// against Glance.
	showGone func(t *testing.T, s *server, id string)
}

var openstackClient = client{
	name: "openstack",
	create: func(t *testing.T, s *server, name, file string) string {
		r := must(t, s.openstack(t, "image", "create", "--disk-format", "raw", "--container-format", "bare",
			"--file", file, name, "-f", "json"))
		img := jsonOut[map[string]any](t, r)
		id, _ := img["id"].(string)
		if id == "" {
			t.Fatalf("no id in image create output:\n%s", r)
		}
		return id
	},
	list: func(t *testing.T, s *server) []string {
		rows := jsonOut[[]map[string]any](t, must(t, s.openstack(t, "image", "list", "-f", "json")))
		var ids []string
		for _, row := range rows {
			ids = append(ids, fmt.Sprint(row["ID"]))
		}
		return ids
	},
	show: func(t *testing.T, s *server, id string) map[string]string {
		img := jsonOut[map[string]any](t, must(t, s.openstack(t, "image", "show", id, "-f", "json")))
		out := map[string]string{}
		for _, k := range []string{"id", "name", "status", "size", "checksum", "os_hash_algo", "os_hash_value",
			"disk_format", "container_format", "visibility", "protected"} {
			v, err := field(img, k)
			if err != nil {
				continue
			}
			switch v := v.(type) {
			case float64:
				out[k] = strconv.FormatInt(int64(v), 10)
			default:
				out[k] = fmt.Sprint(v)
			}
		}
		return out
	},
	setProp: func(t *testing.T, s *server, id, k, v string) {
		must(t, s.openstack(t, "image", "set", "--property", k+"="+v, id))
	},
	unsetProp: func(t *testing.T, s *server, id, k string) {
		must(t, s.openstack(t, "image", "unset", "--property", k, id))
	},
	addTag: func(t *testing.T, s *server, id, tag string) {
		must(t, s.openstack(t, "image", "set", "--tag", tag, id))
	},
	deleteTag: func(t *testing.T, s *server, id, tag string) {
		must(t, s.openstack(t, "image", "unset", "--tag", tag, id))
	},
	download: func(t *testing.T, s *server, id, path string) {
		must(t, s.openstack(t, "image", "save", "--file", path, id))
	},
	deactivate: func(t *testing.T, s *server, id string) {
		must(t, s.openstack(t, "image", "set", "--deactivate", id))
	},
	reactivate: func(t *testing.T, s *server, id string) {
		must(t, s.openstack(t, "image", "set", "--activate", id))
	},
	protect: func(t *testing.T, s *server, id string, on bool) {
		flag := "--unprotected"
		if on {
			flag = "--protected"
		}
		must(t, s.openstack(t, "image", "set", flag, id))
	},
	delete: func(t *testing.T, s *server, id string) cliResult {
		return s.openstack(t, "image", "delete", id)
	},
	forbidden: func(t *testing.T, r cliResult) {
		// openstacksdk prints the status and Glance's explanation.
		if !strings.Contains(r.stderr, "403") || !strings.Contains(r.stderr, "is protected and cannot be deleted") {
			t.Errorf("delete of a protected image: want a 403 'is protected and cannot be deleted' message:\n%s", r)
		}
	},
	showGone: func(t *testing.T, s *server, id string) {
		// openstacksdk's find_image tries GET /v2/images/ID, then
		// ?name=ID, then ?name=ID&os_hidden=True (Python's spelling of a
		// boolean); Glance 25.1 lower-cases os_hidden before checking it,
		// so the search ends in "No Image found for ID".
		r := mustFail(t, s.openstack(t, "image", "show", id))
		if want := "No Image found for " + id; !strings.Contains(r.stderr, want) {
			t.Errorf("openstack image show of a deleted image: want %q (as against Glance 25.1); got:\n%s", want, r)
		}
	},
}

var glanceClient = client{
	name: "glance",
	create: func(t *testing.T, s *server, name, file string) string {
		r := must(t, s.glance(t, "image-create", "--name", name, "--disk-format", "raw", "--container-format", "bare",
			"--file", file))
		id := glanceProps(t, r)["id"]
		if id == "" {
			t.Fatalf("no id in image-create output:\n%s", r)
		}
		return id
	},
	list: func(t *testing.T, s *server) []string {
		var ids []string
		for _, row := range glanceTable(t, must(t, s.glance(t, "image-list")).stdout) {
			ids = append(ids, row["ID"])
		}
		return ids
	},
	show: func(t *testing.T, s *server, id string) map[string]string {
		return glanceProps(t, must(t, s.glance(t, "image-show", id)))
	},
	setProp: func(t *testing.T, s *server, id, k, v string) {
		must(t, s.glance(t, "image-update", "--property", k+"="+v, id))
	},
	unsetProp: func(t *testing.T, s *server, id, k string) {
		must(t, s.glance(t, "image-update", "--remove-property", k, id))
	},
	addTag: func(t *testing.T, s *server, id, tag string) {
		must(t, s.glance(t, "image-tag-update", id, tag))
	},
	deleteTag: func(t *testing.T, s *server, id, tag string) {
		must(t, s.glance(t, "image-tag-delete", id, tag))
	},
	download: func(t *testing.T, s *server, id, path string) {
		must(t, s.glance(t, "image-download", "--file", path, id))
	},
	deactivate: func(t *testing.T, s *server, id string) {
		must(t, s.glance(t, "image-deactivate", id))
	},
	reactivate: func(t *testing.T, s *server, id string) {
		must(t, s.glance(t, "image-reactivate", id))
	},
	protect: func(t *testing.T, s *server, id string, on bool) {
		r := must(t, s.glance(t, "image-update", "--protected", strconv.FormatBool(on), id))
		if got := glanceProps(t, r)["protected"]; !strings.EqualFold(got, strconv.FormatBool(on)) {
			t.Errorf("image-update --protected %v printed protected=%q", on, got)
		}
	},
	delete: func(t *testing.T, s *server, id string) cliResult {
		return s.glance(t, "image-delete", id)
	},
	forbidden: func(t *testing.T, r cliResult) {
		// glanceclient prints this only for an HTTP 403 (HTTPForbidden).
		if want := "You are not permitted to delete the image"; !strings.Contains(r.stderr, want) {
			t.Errorf("delete of a protected image: want %q (glanceclient's 403 message):\n%s", want, r)
		}
	},
	showGone: func(t *testing.T, s *server, id string) {
		r := mustFail(t, s.glance(t, "image-show", id))
		if !strings.Contains(r.stderr, "404") {
			t.Errorf("glance image-show of a deleted image: want a 404 message:\n%s", r)
		}
	},
}

var clients = []client{openstackClient, glanceClient}

// TestImageLifecycle walks one image per client through create, list,
// show, properties, tags, download, deactivate/reactivate, protect and
// delete, all with the real CLI against the real binary.
func TestImageLifecycle(t *testing.T) {
	t.Parallel()
	requireCLI(t)
	s := startServer(t)
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			lifecycle(t, s, c)
		})
	}
}

func lifecycle(t *testing.T, s *server, c client) {
	p := writePayload(t, s.tmp, 3<<20+12345)
	name := "e2e-lifecycle-" + c.name
	var id string

	ok := t.Run("create", func(t *testing.T) {
		id = c.create(t, s, name, p.path)
		s.waitStatus(t, id, "active")
	})
	if !ok {
		t.FailNow()
	}

	t.Run("list", func(t *testing.T) {
		if ids := c.list(t, s); !slices.Contains(ids, id) {
			t.Errorf("image %s not in the listing %v", id, ids)
		}
	})

	t.Run("show", func(t *testing.T) {
		got := c.show(t, s, id)
		want := map[string]string{
			"id":               id,
			"name":             name,
			"status":           "active",
			"size":             strconv.Itoa(len(p.data)),
			"checksum":         p.md5,
			"os_hash_algo":     "sha512",
			"os_hash_value":    p.sha512,
			"disk_format":      "raw",
			"container_format": "bare",
			"visibility":       "shared",
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("show: %s = %q, want %q", k, got[k], v)
			}
		}
	})

	t.Run("properties", func(t *testing.T) {
		c.setProp(t, s, id, "e2e_color", "blue")
		if img := s.mustGetImage(t, id); img["e2e_color"] != "blue" {
			t.Fatalf("after setting e2e_color=blue the image has e2e_color=%v", img["e2e_color"])
		}
		c.setProp(t, s, id, "e2e_color", "green")
		if img := s.mustGetImage(t, id); img["e2e_color"] != "green" {
			t.Fatalf("after replacing e2e_color=green the image has e2e_color=%v", img["e2e_color"])
		}
		c.unsetProp(t, s, id, "e2e_color")
		if img := s.mustGetImage(t, id); img["e2e_color"] != nil {
			t.Fatalf("after removing e2e_color the image still has e2e_color=%v", img["e2e_color"])
		}
	})

	t.Run("tags", func(t *testing.T) {
		c.addTag(t, s, id, "e2e-tag")
		tags := s.mustGetImage(t, id)["tags"].([]any)
		if !slices.Contains(tags, any("e2e-tag")) {
			t.Fatalf("after adding e2e-tag the tags are %v", tags)
		}
		c.deleteTag(t, s, id, "e2e-tag")
		tags = s.mustGetImage(t, id)["tags"].([]any)
		if slices.Contains(tags, any("e2e-tag")) {
			t.Fatalf("after deleting e2e-tag the tags are %v", tags)
		}
	})

	t.Run("download", func(t *testing.T) {
		out := filepath.Join(s.tmp, c.name+"-download.bin")
		c.download(t, s, id, out)
		checkDownload(t, out, p, s.mustGetImage(t, id))
	})

	t.Run("deactivate-reactivate", func(t *testing.T) {
		c.deactivate(t, s, id)
		if img := s.mustGetImage(t, id); img["status"] != "deactivated" {
			t.Fatalf("after deactivate the status is %v, want deactivated", img["status"])
		}
		if got := c.show(t, s, id)["status"]; got != "deactivated" {
			t.Errorf("%s show after deactivate: status %q, want deactivated", c.name, got)
		}
		// The noauth context is admin, and Glance lets admins download a
		// deactivated image's data.
		out := filepath.Join(s.tmp, c.name+"-deactivated.bin")
		c.download(t, s, id, out)
		checkDownload(t, out, p, s.mustGetImage(t, id))

		c.reactivate(t, s, id)
		if img := s.mustGetImage(t, id); img["status"] != "active" {
			t.Fatalf("after reactivate the status is %v, want active", img["status"])
		}
	})

	t.Run("protect-delete", func(t *testing.T) {
		c.protect(t, s, id, true)
		if img := s.mustGetImage(t, id); img["protected"] != true {
			t.Fatalf("after protecting, protected=%v", img["protected"])
		}
		r := mustFail(t, c.delete(t, s, id))
		c.forbidden(t, r)
		if !s.logHas("method=DELETE", "path=/v2/images/"+id+" ", "status=403") {
			t.Errorf("server log has no DELETE /v2/images/%s answered 403", id)
		}
		if img := s.mustGetImage(t, id); img["status"] != "active" {
			t.Fatalf("after a refused delete the status is %v, want active", img["status"])
		}

		c.protect(t, s, id, false)
		if img := s.mustGetImage(t, id); img["protected"] != false {
			t.Fatalf("after unprotecting, protected=%v", img["protected"])
		}
		must(t, c.delete(t, s, id))
		if code, _ := s.getImage(t, id); code != http.StatusNotFound {
			t.Fatalf("GET /v2/images/%s after delete: %d, want 404", id, code)
		}
		if ids := s.listIDs(t, ""); slices.Contains(ids, id) {
			t.Errorf("deleted image %s still listed", id)
		}
		c.showGone(t, s, id)
	})
}
