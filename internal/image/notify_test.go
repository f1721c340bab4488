package image_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"glint/internal/image"
)

// recorder is a Notifier that keeps what it is sent (its payloads
// encoded as the real notifier encodes them).
type recorder struct {
	mu     sync.Mutex
	events []string
	last   map[string]map[string]any
	off    map[string]bool
}

func (r *recorder) Enabled(ev string) bool { return !r.off[ev] }

func (r *recorder) Notify(_ context.Context, prio, ev string, payload any) {
	b, _ := json.Marshal(payload)
	var p map[string]any
	json.Unmarshal(b, &p)
	r.mu.Lock()
	defer r.mu.Unlock()
	st, _ := p["status"].(string)
	if prio != image.PriorityInfo {
		st = prio
	}
	r.events = append(r.events, ev+":"+st)
	if r.last == nil {
		r.last = map[string]map[string]any{}
	}
	r.last[ev] = p
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

// TestNotifications: each change sends Glance 25.1's events, in order,
// with its payload (test/notify compares them with Glance itself).
func TestNotifications(t *testing.T) {
	rec := &recorder{}
	e := newEnv(t, nil, func(o *image.Options) { o.Notifier = rec })
	p1 := e.as(member("p1"))
	img := rawImage(e, "visibility", "shared")
	check := func(what string, want ...string) {
		t.Helper()
		if got := rec.take(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s sent %v, want %v", what, got, want)
		}
	}
	check("create", "image.create:queued")
	if _, err := e.svc.Update(p1, img.ID, []image.Change{{Op: "add", Path: []string{"foo"}, Value: "bar"}}, false); err != nil {
		t.Fatal(err)
	}
	check("update", "image.update:queued")
	if err := e.svc.AddTag(p1, img.ID, "t"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteTag(p1, img.ID, "t"); err != nil {
		t.Fatal(err)
	}
	check("tags", "image.update:queued", "image.update:queued")
	e.upload(img.ID, "hello")
	check("upload", "image.update:saving", "image.prepare:saving", "image.upload:active", "image.activate:active", "image.update:active")
	up := rec.last["image.upload"]
	if up["size"] != 5.0 || up["checksum"] != "5d41402abc4b2a76b9719d911017c592" || up["properties"].(map[string]any)["foo"] != "bar" {
		t.Errorf("image.upload payload %v", up)
	}
	for _, k := range []string{"os_glance_importing_to_stores", "os_glance_failed_import"} {
		if l, ok := up[k].([]any); !ok || len(l) != 0 {
			t.Errorf("image.upload %s = %#v, want []", k, up[k])
		}
	}
	if _, ok := rec.last["image.activate"]["os_glance_importing_to_stores"]; ok {
		t.Error("image.activate has the import lists; only prepare and upload have them")
	}
	ctxAdm := e.as(admin())
	if err := e.svc.SetActive(ctxAdm, img.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SetActive(ctxAdm, img.ID, true); err != nil {
		t.Fatal(err)
	}
	check("deactivate and reactivate", "image.update:deactivated", "image.update:active")

	full, _ := e.svc.Get(p1, img.ID)
	e.svc.Sent(p1, full, 5, 5)
	e.svc.Sent(p1, full, 2, 5)
	check("downloads", "image.send:", "image.send:ERROR")
	if s := rec.last["image.send"]; s["bytes_sent"] != 2.0 || s["receiver_tenant_id"] != "p1" || s["receiver_user_id"] != "u-p1" || s["owner_id"] != "p1" {
		t.Errorf("image.send payload %v", s)
	}

	if _, err := e.svc.AddMember(p1, img.ID, "p2"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.UpdateMember(e.as(member("p2")), img.ID, "p2", image.MemberAccepted); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteMember(p1, img.ID, "p2"); err != nil {
		t.Fatal(err)
	}
	check("members", "image.member.create:pending", "image.member.update:accepted", "image.member.delete:accepted")
	if d := rec.last["image.member.delete"]; d["deleted"] != true || d["deleted_at"] == nil || d["member_id"] != "p2" {
		t.Errorf("image.member.delete payload %v", d)
	}

	if err := e.svc.Delete(p1, img.ID); err != nil {
		t.Fatal(err)
	}
	check("delete", "image.delete:deleted")
	d := rec.last["image.delete"]
	if d["deleted"] != true || d["deleted_at"] == nil || d["is_public"] != false || d["visibility"] != "shared" {
		t.Errorf("image.delete payload %v", d)
	}
	var keys []string
	for k := range d {
		keys = append(keys, k)
	}
	if got := fmt.Sprint(len(keys)); got != "20" {
		t.Errorf("image payload has %d keys, Glance's 20: %v", len(keys), keys)
	}

	// A failed upload: the error (a message), then the image queued again.
	failed := rawImage(e)
	rec.take()
	err := e.svc.Upload(p1, failed.ID, nil, strings.NewReader("too long"), 3)
	if err == nil {
		t.Fatal("an upload longer than announced succeeded")
	}
	check("failed upload", "image.update:saving", "image.prepare:saving", "image.upload:ERROR", "image.update:queued")

	// disabled_notifications is the notifier's: nothing is built for it.
	rec.off = map[string]bool{"image.create": true}
	rawImage(e)
	check("disabled")
}
