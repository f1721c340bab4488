//go:build glance

package glance_test

import (
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"strings"
)

// data returns n deterministic bytes.
func data(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7+int(seed)) ^ byte(i>>8)
	}
	return b
}

const (
	ctJSON   = "application/json"
	ctPatch0 = "application/openstack-images-v2.0-json-patch"
	ctPatch1 = "application/openstack-images-v2.1-json-patch"
	ctOctet  = "application/octet-stream"
)

func h(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func get(name, path string, want int) step {
	return step{Name: name, Method: "GET", Path: path, Want: want}
}

func create(name, body string, want int) step {
	return step{Name: name, Method: "POST", Path: "/v2/images", Body: body, Want: want}
}

// patch sends a v2.1 JSON patch to image img.
func patch(name, img, body string, want int) step {
	return step{Name: name, Method: "PATCH", Path: "/v2/images/{id:" + img + "}", Body: body, Want: want}
}

func patch20(name, img, body string, want int) step {
	return step{Name: name, Method: "PATCH", Path: "/v2/images/{id:" + img + "}", Body: body, Want: want,
		Hdr: h("Content-Type", ctPatch0)}
}

func upload(name, img string, b []byte, want int) step {
	return step{Name: name, Method: "PUT", Path: "/v2/images/{id:" + img + "}/file", Raw: b, Want: want}
}

func rangeGet(name, img, rng string, want int) step {
	return step{Name: name, Method: "GET", Path: "/v2/images/{id:" + img + "}/file", Hdr: h("Range", rng), Want: want}
}

func show(name, img string) step {
	return get(name, "/v2/images/{id:"+img+"}", 200)
}

func buildSteps() []step {
	var s []step
	add := func(st ...step) { s = append(s, st...) }

	long255 := strings.Repeat("n", 255)
	long256 := strings.Repeat("n", 256)
	tag255 := strings.Repeat("t", 255)
	tag256 := strings.Repeat("t", 256)

	laData := data(100, 1)
	lfData := data(300, 2)
	laMD5 := md5.Sum(laData)
	laSHA := sha512.Sum512(laData)

	// ---------------------------------------------------------------- root
	add(
		get("root", "/", 300),
		get("versions", "/versions", 200),
		get("v3 root", "/v3", 300),
		get("v3 images", "/v3/images", 300),
		get("v2.99 images", "/v2.99/images", 300),
		get("v2.16 images (cache off)", "/v2.16/images", 300),
		get("v2.8 images (multi-store off)", "/v2.8/images", 300),
		get("unknown top-level path", "/nope", 300),
		get("v2 root (Glance redirects to /v2/)", "/v2", 302),
		get("v2 root slash", "/v2/", 0),
		get("unknown v2 path", "/v2/nope", 404),
		get("info import", "/v2/info/import", 200),
		get("info stores (single store)", "/v2/info/stores", 404),
		get("healthcheck", "/healthcheck", 200),
	)

	// ------------------------------------------------------------- schemas
	for _, n := range []string{"image", "images", "member", "members"} {
		add(get("schema "+n, "/v2/schemas/"+n, 200))
	}
	add(
		get("schema via v2.9", "/v2.9/schemas/member", 200),
		get("unknown schema", "/v2/schemas/nope", 404),
		step{Name: "POST schema -> 405", Method: "POST", Path: "/v2/schemas/image", Body: "{}", Want: 405},
	)

	// ------------------------------------------------------ list fixtures
	// created in this order (list default order is created_at desc)
	add(
		create("fixture la", `{"id":"{id:la}","name":"alpha","disk_format":"raw","container_format":"bare","tags":["lst","x"],"foo":"bar","min_ram":128}`, 201),
		upload("fixture la upload", "la", laData, 204),
		create("fixture lb", `{"id":"{id:lb}","name":"beta","disk_format":"qcow2","container_format":"bare","tags":["lst"],"visibility":"private","foo":"baz"}`, 201),
		create("fixture lc (hidden)", `{"id":"{id:lc}","name":"gamma,comma","disk_format":"iso","container_format":"ovf","tags":["lst","y"],"os_hidden":true}`, 201),
		create("fixture ld (community)", `{"id":"{id:ld}","name":"delta","visibility":"community","tags":["lst"],"min_disk":5}`, 201),
		create("fixture le (no name)", `{"id":"{id:le}","tags":["lst"]}`, 201),
		create("fixture lf (protected)", `{"id":"{id:lf}","name":"epsilon","disk_format":"raw","container_format":"bare","tags":["lst","x"],"protected":true}`, 201),
		upload("fixture lf upload", "lf", lfData, 204),
		step{Name: "fixture lf deactivate", Method: "POST", Path: "/v2/images/{id:lf}/actions/deactivate", Want: 204},
		create("fixture lg (owner)", `{"id":"{id:lg}","name":"zeta","owner":"proj-z","tags":["lst"]}`, 201),
		show("fixture la after upload", "la"),
		show("fixture lf deactivated", "lf"),
	)

	// ---------------------------------------------------------------- list
	L := "/v2/images?tag=lst"
	add(
		get("list default", "/v2/images", 200),
		get("list tag", L, 200),
		get("list tag AND", L+"&tag=x", 200),
		get("list name", L+"&name=alpha", 200),
		get("list name in:", L+"&name=in:alpha,beta", 200),
		get("list name in: quoted comma", L+`&name=in:%22gamma,comma%22,alpha&os_hidden=true`, 200),
		get("list name in: unbalanced quote", L+`&name=in:%22alpha,beta`, 400),
		get("list name like:", L+"&name=like:x", 400),
		get("list id", L+"&id={id:la}", 200),
		get("list id in:", L+"&id=in:{id:la},{id:lb}", 200),
		get("list status active", L+"&status=active", 200),
		get("list status queued", L+"&status=queued", 200),
		get("list status deactivated", L+"&status=deactivated", 200),
		get("list status bogus", L+"&status=bogus", 0),
		get("list container_format", L+"&container_format=ovf&os_hidden=true", 200),
		get("list disk_format", L+"&disk_format=qcow2", 200),
		get("list disk_format in:", L+"&disk_format=in:raw,iso", 200),
		get("list visibility private", L+"&visibility=private", 200),
		get("list visibility shared", L+"&visibility=shared", 200),
		get("list visibility community", L+"&visibility=community", 200),
		get("list visibility public", L+"&visibility=public", 200),
		get("list visibility all", L+"&visibility=all", 200),
		get("list visibility bad", L+"&visibility=foo", 400),
		get("list member_status all", L+"&member_status=all", 200),
		get("list member_status pending", L+"&member_status=pending", 200),
		get("list member_status bad", L+"&member_status=foo", 400),
		get("list owner", L+"&owner=proj-z", 200),
		get("list size range", L+"&size_min=50&size_max=200", 200),
		get("list size_min only", L+"&size_min=101", 200),
		get("list size_min bad", L+"&size_min=abc", 400),
		get("list size_max bad", L+"&size_max=1.5", 400),
		get("list created_at gt", L+"&created_at=gt:2000-01-01T00:00:00Z", 200),
		get("list created_at lt", L+"&created_at=lt:2000-01-01T00:00:00Z", 200),
		get("list created_at bare", L+"&created_at=2000-01-01T00:00:00Z", 200),
		get("list updated_at lte", L+"&updated_at=lte:2999-01-01T00:00:00Z", 200),
		get("list created_at bad time", L+"&created_at=gt:notatime", 400),
		get("list created_at bad op", L+"&created_at=foo:2000-01-01T00:00:00Z", 400),
		get("list os_hidden true", L+"&os_hidden=true", 200),
		get("list os_hidden false", L+"&os_hidden=false", 200),
		get("list os_hidden yes", L+"&os_hidden=yes", 400),
		get("list protected true", L+"&protected=true", 200),
		get("list protected false", L+"&protected=false", 200),
		get("list protected yes", L+"&protected=yes", 400),
		get("list checksum", L+"&checksum="+hex.EncodeToString(laMD5[:]), 200),
		get("list os_hash_value", L+"&os_hash_value="+hex.EncodeToString(laSHA[:]), 200),
		get("list custom property", L+"&foo=bar", 200),
		get("list unknown property", L+"&bogus=1", 200),
		get("list changes-since", L+"&changes-since=2000-01-01T00:00:00Z", 400),
		get("list limit 2 (next link)", L+"&limit=2", 200),
		get("list page 2 via marker", L+"&limit=2&marker={id:lf}", 200),
		get("list last page", L+"&limit=2&marker={id:lb}", 200),
		get("list limit 0", L+"&limit=0", 0),
		get("list limit huge", L+"&limit=5000", 200),
		get("list limit bad", L+"&limit=abc", 400),
		get("list limit negative", L+"&limit=-1", 400),
		get("list marker unknown", L+"&marker={id:nosuch}", 400),
		get("list marker not uuid", L+"&marker=nope", 400),
		get("list repeated params first/next quirk", "/v2/images?limit=1&tag=lst&tag=x&sort=name:asc", 200),
		get("list sort_key+sort_dir asc", L+"&sort_key=name&sort_dir=asc", 200),
	)
	for _, k := range []string{"name", "status", "container_format", "disk_format", "size", "id", "created_at", "updated_at"} {
		add(get("list sort_key "+k, L+"&os_hidden=true&sort_key="+k+"&sort_dir=asc", 200))
	}
	add(
		get("list sort_key multiple", L+"&sort_key=status&sort_key=name", 200),
		get("list sort_key multiple dirs", L+"&sort_key=status&sort_dir=asc&sort_key=name&sort_dir=desc", 200),
		get("list sort_dir count mismatch", L+"&sort_key=name&sort_dir=asc&sort_dir=desc", 400),
		get("list sort_key bad", L+"&sort_key=owner", 400),
		get("list sort_dir bad", L+"&sort_key=name&sort_dir=sideways", 400),
		get("list sort new syntax", L+"&sort=status:asc,name", 200),
		get("list sort new syntax desc", L+"&sort=name:desc", 200),
		get("list sort bad dir", L+"&sort=name:bad", 400),
		get("list sort bad key", L+"&sort=bogus", 400),
		get("list sort + sort_key", L+"&sort=name&sort_key=name", 400),
		get("list sort + sort_dir", L+"&sort=name&sort_dir=asc", 400),
		get("list via v2.9", "/v2.9/images?tag=lst", 200),
		get("list via v2.0", "/v2.0/images?tag=lst", 200),
		step{Name: "list via Accept media type", Method: "GET", Path: "/images?tag=lst",
			Hdr: h("Accept", "application/vnd.openstack.images-v2.1"), Want: 200},
		// Glance's index route has no body_reject: the body is ignored
		step{Name: "list with body", Method: "GET", Path: "/v2/images", Body: "x", Hdr: h("Content-Type", "-"), Want: 200},
	)

	// -------------------------------------------------------------- create
	add(
		step{Name: "create without id", Method: "POST", Path: "/v2/images",
			Body:    `{"name":"auto","disk_format":"raw","container_format":"bare","foo":"bar","tags":["b","a","a"]}`,
			Capture: "cauto", Want: 201},
		show("show created without id", "cauto"),
		step{Name: "delete created without id", Method: "DELETE", Path: "/v2/images/{id:cauto}", Want: 204},
		create("create empty object", `{"id":"{id:cempty}"}`, 201),
		create("create all core fields", `{"id":"{id:cfull}","name":"full","disk_format":"vmdk","container_format":"ova","visibility":"private","protected":false,"os_hidden":false,"min_ram":1,"min_disk":2,"tags":["b","a","a"],"x_custom":"v","description":"d"}`, 201),
		create("create name null", `{"id":"{id:cnull}","name":null,"disk_format":null}`, 201),
		create("create name 255", `{"id":"{id:c255}","name":"`+long255+`"}`, 201),
		create("create owner other", `{"id":"{id:cowner}","owner":"someone"}`, 201),
		create("create visibility community", `{"id":"{id:ccomm}","visibility":"community"}`, 201),
		create("create visibility shared", `{"id":"{id:cshared}","visibility":"shared"}`, 201),
		step{Name: "create text/plain content type", Method: "POST", Path: "/v2/images",
			Body: `{"id":"{id:ctext}"}`, Hdr: h("Content-Type", "text/plain"), Want: 201},
		step{Name: "create no content type", Method: "POST", Path: "/v2/images",
			Body: `{"id":"{id:cnoct}"}`, Hdr: h("Content-Type", "-"), Want: 201},
		create("create duplicate id", `{"id":"{id:cempty}"}`, 409),
		create("create visibility public", `{"visibility":"public"}`, 403),
	)
	for _, k := range []string{"direct_url", "self", "file", "schema", "stores"} {
		add(create("create read-only "+k, `{"`+k+`":"x"}`, 403))
	}
	for _, k := range []string{"created_at", "updated_at", "checksum"} {
		add(create("create read-only "+k, `{"`+k+`":"x"}`, 403))
	}
	add(
		// the schema's enum check comes before the read-only check
		create("create read-only status, bad value", `{"status":"x"}`, 400),
		create("create read-only status", `{"status":"active"}`, 403),
		// zed silently drops these two (not in its read-only list)
		create("create os_hash_algo (ignored by Glance)", `{"os_hash_algo":"x"}`, 201),
		create("create os_hash_value (ignored by Glance)", `{"os_hash_value":"x"}`, 201),
	)
	add(
		create("create read-only size", `{"size":1}`, 403),
		create("create read-only virtual_size", `{"virtual_size":1}`, 403),
		create("create read-only status+self", `{"status":"active","self":"x"}`, 403),
	)
	for _, k := range []string{"locations", "location", "deleted", "deleted_at", "os_glance_x", "os_glance_import_task"} {
		v := `"x"`
		if k == "locations" {
			v = `[]`
		}
		add(create("create reserved "+k, `{"`+k+`":`+v+`}`, 403))
	}
	add(
		create("create bad disk_format", `{"disk_format":"foo"}`, 400),
		create("create bad container_format", `{"container_format":"foo"}`, 400),
		create("create bad visibility", `{"visibility":"foo"}`, 400),
		create("create custom int", `{"foo":1}`, 400),
		create("create custom null", `{"foo":null}`, 400),
		create("create custom bool", `{"foo":true}`, 400),
		create("create custom object", `{"foo":{"a":"b"}}`, 400),
		create("create custom key 256", `{"`+long256+`":"x"}`, 400),
		create("create bad id", `{"id":"nope"}`, 400),
		create("create id not string", `{"id":5}`, 400),
		create("create name 256", `{"name":"`+long256+`"}`, 400),
		create("create name int", `{"name":5}`, 400),
		create("create min_ram negative", `{"min_ram":-1}`, 400),
		create("create min_disk negative", `{"min_disk":-1}`, 400),
		create("create min_ram too big", `{"min_ram":2147483648}`, 400),
		create("create min_ram string", `{"min_ram":"1"}`, 400),
		create("create protected string", `{"protected":"true"}`, 400),
		create("create os_hidden string", `{"os_hidden":"true"}`, 400),
		create("create tags not array", `{"tags":"a"}`, 400),
		create("create tags int", `{"tags":[1]}`, 400),
		create("create tag 256", `{"tags":["`+tag256+`"]}`, 400),
		create("create kernel_id not uuid (schema-image.json)", `{"kernel_id":"nope"}`, 0),
		create("create emoji name", `{"name":"x😀"}`, 400),
		create("create malformed JSON", `{"name":`, 400),
		// the deserializer accepts lists, the controller then fails: 500
		create("create JSON array body", `[]`, 500),
		create("create JSON array of object", `[{"name":"x"}]`, 500),
		create("create JSON scalar body", `42`, 400),
		create("create JSON string body", `"x"`, 400),
		step{Name: "create empty body", Method: "POST", Path: "/v2/images", Want: 400},
		step{Name: "create empty body with CT", Method: "POST", Path: "/v2/images", Hdr: h("Content-Type", ctJSON), Want: 400},
		step{Name: "create whitespace body", Method: "POST", Path: "/v2/images", Body: " ", Want: 400},
		get("list after creates", "/v2/images?limit=100&visibility=all&sort_key=id&sort_dir=asc&os_hidden=true", 200),
	)

	// ---------------------------------------------------------------- show
	add(
		show("show", "cfull"),
		get("show missing uuid", "/v2/images/{id:nosuch}", 404),
		get("show non-uuid id", "/v2/images/nope", 404),
		get("show 37-char id", "/v2/images/{id:cfull}0", 404),
		step{Name: "show missing, no Accept (text/plain)", Method: "GET", Path: "/v2/images/{id:nosuch}", Hdr: h("Accept", "-"), Want: 404},
		step{Name: "show missing, Accept */* (html)", Method: "GET", Path: "/v2/images/{id:nosuch}", Hdr: h("Accept", "*/*"), Want: 404},
		step{Name: "show missing, Accept text/html", Method: "GET", Path: "/v2/images/{id:nosuch}", Hdr: h("Accept", "text/html"), Want: 404},
		step{Name: "show missing, Accept json,*/*", Method: "GET", Path: "/v2/images/{id:nosuch}", Hdr: h("Accept", "application/json, */*"), Want: 404},
		step{Name: "show missing, Accept json;q=1,html;q=0.5", Method: "GET", Path: "/v2/images/{id:nosuch}", Hdr: h("Accept", "application/json;q=1, text/html;q=0.5"), Want: 404},
		step{Name: "show with body", Method: "GET", Path: "/v2/images/{id:cfull}", Body: "x", Hdr: h("Content-Type", "-"), Want: 400},
		step{Name: "HEAD image", Method: "HEAD", Path: "/v2/images/{id:cfull}", Want: 405},
		step{Name: "HEAD list", Method: "HEAD", Path: "/v2/images", Want: 405},
	)

	// --------------------------------------------------------------- PATCH
	// valid changes go to image p, requests expected to fail to image px,
	// so that a request one server wrongly accepts does not change the
	// bodies compared later
	add(create("patch fixture p", `{"id":"{id:p}","name":"p","disk_format":"raw","container_format":"bare","foo":"bar"}`, 201))
	add(create("patch fixture px", `{"id":"{id:px}","name":"px","disk_format":"raw","container_format":"bare","foo":"bar"}`, 201))
	add(
		step{Name: "patch application/json -> 415", Method: "PATCH", Path: "/v2/images/{id:px}",
			Body: `[{"op":"replace","path":"/name","value":"x"}]`, Hdr: h("Content-Type", ctJSON), Want: 415},
		step{Name: "patch no content type -> 415", Method: "PATCH", Path: "/v2/images/{id:px}",
			Body: `[{"op":"replace","path":"/name","value":"x"}]`, Hdr: h("Content-Type", "-"), Want: 415},
		step{Name: "patch v2.1 with charset param", Method: "PATCH", Path: "/v2/images/{id:p}",
			Body: `[{"op":"replace","path":"/name","value":"p"}]`, Hdr: h("Content-Type", ctPatch1+"; charset=UTF-8"), Want: 0},
		patch("patch replace name", "p", `[{"op":"replace","path":"/name","value":"p2"}]`, 200),
		patch("patch add existing core (acts as replace)", "p", `[{"op":"add","path":"/name","value":"p3"}]`, 200),
		patch("patch add existing custom (acts as replace)", "p", `[{"op":"add","path":"/foo","value":"bar2"}]`, 200),
		patch("patch add new custom", "p", `[{"op":"add","path":"/newprop","value":"v"}]`, 200),
		patch("patch replace custom", "p", `[{"op":"replace","path":"/newprop","value":"v2"}]`, 200),
		patch("patch remove custom", "p", `[{"op":"remove","path":"/newprop"}]`, 200),
		patch("patch remove absent custom", "px", `[{"op":"remove","path":"/newprop"}]`, 409),
		patch("patch replace absent custom", "px", `[{"op":"replace","path":"/nope","value":"x"}]`, 409),
		patch("patch remove core name", "px", `[{"op":"remove","path":"/name"}]`, 403),
		patch("patch remove core min_ram", "px", `[{"op":"remove","path":"/min_ram"}]`, 403),
		patch("patch remove core tags", "px", `[{"op":"remove","path":"/tags"}]`, 403),
	)
	for _, k := range []string{"created_at", "updated_at", "status", "checksum", "size", "virtual_size", "direct_url", "self", "file", "schema", "id", "os_hash_algo", "os_hash_value"} {
		add(patch("patch replace read-only "+k, "px", `[{"op":"replace","path":"/`+k+`","value":"x"}]`, 403))
	}
	add(patch("patch add read-only status", "px", `[{"op":"add","path":"/status","value":"active"}]`, 403))
	add(patch("patch remove read-only checksum", "px", `[{"op":"remove","path":"/checksum"}]`, 403))
	for _, k := range []string{"location", "deleted", "deleted_at", "os_glance_x", "os_glance_import_task"} {
		add(patch("patch add reserved "+k, "px", `[{"op":"add","path":"/`+k+`","value":"x"}]`, 403))
	}
	add(
		patch("patch replace locations []", "px", `[{"op":"replace","path":"/locations","value":[]}]`, 403),
		patch("patch add locations/-", "px", `[{"op":"add","path":"/locations/-","value":{"url":"http://example.com/x","metadata":{}}}]`, 403),
		patch("patch bad disk_format", "px", `[{"op":"replace","path":"/disk_format","value":"foo"}]`, 400),
		patch("patch bad container_format", "px", `[{"op":"replace","path":"/container_format","value":"foo"}]`, 400),
		patch("patch bad visibility", "px", `[{"op":"replace","path":"/visibility","value":"foo"}]`, 400),
		patch("patch min_ram string", "px", `[{"op":"replace","path":"/min_ram","value":"x"}]`, 400),
		patch("patch min_ram negative", "px", `[{"op":"replace","path":"/min_ram","value":-1}]`, 400),
		patch("patch min_disk negative", "px", `[{"op":"replace","path":"/min_disk","value":-1}]`, 400),
		patch("patch min_ram too big", "px", `[{"op":"replace","path":"/min_ram","value":2147483648}]`, 400),
		patch("patch min_ram ok", "p", `[{"op":"replace","path":"/min_ram","value":2147483647}]`, 200),
		patch("patch protected string", "px", `[{"op":"replace","path":"/protected","value":"yes"}]`, 400),
		patch("patch name 256", "px", `[{"op":"replace","path":"/name","value":"`+long256+`"}]`, 400),
		patch("patch name 255", "p", `[{"op":"replace","path":"/name","value":"`+long255+`"}]`, 200),
		patch("patch name null", "p", `[{"op":"replace","path":"/name","value":null}]`, 200),
		patch("patch custom int", "px", `[{"op":"add","path":"/foo","value":1}]`, 400),
		patch("patch custom null", "px", `[{"op":"add","path":"/foo","value":null}]`, 400),
		// Glance checks the 255-char key limit on create only
		patch("patch custom key 256", "px", `[{"op":"add","path":"/`+long256+`","value":"x"}]`, 200),
		patch("patch emoji value", "px", `[{"op":"add","path":"/foo","value":"😀"}]`, 400),
		patch("patch tags replace (dedup)", "p", `[{"op":"replace","path":"/tags","value":["b","a","b"]}]`, 200),
		patch("patch tags 256", "px", `[{"op":"replace","path":"/tags","value":["a","`+tag256+`"]}]`, 400),
		patch("patch tags not array", "px", `[{"op":"replace","path":"/tags","value":"a"}]`, 400),
		patch("patch add /tags/-", "px", `[{"op":"add","path":"/tags/-","value":"c"}]`, 400),
		patch("patch remove /tags/0", "px", `[{"op":"remove","path":"/tags/0"}]`, 400),
		patch("patch op move", "px", `[{"op":"move","from":"/foo","path":"/bar"}]`, 400),
		patch("patch op copy", "px", `[{"op":"copy","from":"/foo","path":"/bar"}]`, 400),
		patch("patch op test", "px", `[{"op":"test","path":"/foo","value":"bar2"}]`, 400),
		patch("patch op bogus", "px", `[{"op":"bogus","path":"/foo","value":"x"}]`, 400),
		patch("patch missing op", "px", `[{"path":"/name","value":"x"}]`, 400),
		patch("patch missing path", "px", `[{"op":"replace","value":"x"}]`, 400),
		patch("patch missing value", "px", `[{"op":"replace","path":"/name"}]`, 400),
		patch("patch remove with value", "px", `[{"op":"remove","path":"/foo","value":"x"}]`, 0),
		patch("patch path without slash", "px", `[{"op":"replace","path":"name","value":"x"}]`, 400),
		patch("patch path depth 2", "px", `[{"op":"replace","path":"/a/b","value":"x"}]`, 400),
		patch("patch path root", "px", `[{"op":"replace","path":"/","value":"x"}]`, 409),
		patch("patch path trailing slash", "px", `[{"op":"replace","path":"/name/","value":"x"}]`, 400),
		// Glance reads "//name" as "/name"
		patch("patch path double slash", "px", `[{"op":"replace","path":"//name","value":"x"}]`, 200),
		patch("patch path escape ~1", "p", `[{"op":"add","path":"/a~1b","value":"x"}]`, 200),
		patch("patch path escape ~0", "p", `[{"op":"add","path":"/a~0b","value":"x"}]`, 200),
		patch("patch path bad escape ~2", "px", `[{"op":"add","path":"/a~2b","value":"x"}]`, 400),
		patch("patch path not string (Glance 500)", "px", `[{"op":"add","path":5,"value":"x"}]`, 500),
		patch("patch body object", "px", `{"op":"replace","path":"/name","value":"x"}`, 400),
		patch("patch body array of non-objects", "px", `[1]`, 400),
		patch("patch body string", "px", `"x"`, 400),
		patch("patch malformed JSON", "px", `[{"op":`, 400),
		step{Name: "patch empty body", Method: "PATCH", Path: "/v2/images/{id:px}", Hdr: h("Content-Type", ctPatch1), Want: 400},
		patch("patch empty array", "p", `[]`, 200),
		patch("patch visibility public", "px", `[{"op":"replace","path":"/visibility","value":"public"}]`, 403),
		patch("patch visibility community", "p", `[{"op":"replace","path":"/visibility","value":"community"}]`, 200),
		patch("patch visibility private", "p", `[{"op":"replace","path":"/visibility","value":"private"}]`, 200),
		patch("patch visibility shared", "p", `[{"op":"replace","path":"/visibility","value":"shared"}]`, 200),
		patch("patch owner (no-auth is admin)", "p", `[{"op":"replace","path":"/owner","value":"proj-p"}]`, 200),
		patch("patch protected+os_hidden", "p", `[{"op":"replace","path":"/protected","value":true},{"op":"replace","path":"/os_hidden","value":true}]`, 200),
		patch("patch unprotect/unhide", "p", `[{"op":"replace","path":"/protected","value":false},{"op":"replace","path":"/os_hidden","value":false}]`, 200),
		patch("patch container_format on queued", "p", `[{"op":"replace","path":"/container_format","value":"ovf"}]`, 200),
		patch("patch disk_format null on queued", "p", `[{"op":"replace","path":"/disk_format","value":null}]`, 200),
		patch("patch atomic (2nd op fails)", "p", `[{"op":"replace","path":"/name","value":"atomic"},{"op":"replace","path":"/nope","value":"x"}]`, 409),
		show("show after atomic patch", "p"),
		patch("patch several ops", "p", `[{"op":"add","path":"/k1","value":"v1"},{"op":"add","path":"/k2","value":"v2"},{"op":"remove","path":"/k1"},{"op":"replace","path":"/name","value":"multi"}]`, 200),
		patch20("patch v2.0 replace", "p", `[{"replace":"/name","value":"p20"}]`, 200),
		patch20("patch v2.0 add existing -> 409", "px", `[{"add":"/name","value":"x"}]`, 409),
		patch20("patch v2.0 add new", "p", `[{"add":"/p20","value":"v"}]`, 200),
		patch20("patch v2.0 remove", "p", `[{"remove":"/p20"}]`, 200),
		patch20("patch v2.0 two op keys", "px", `[{"replace":"/name","add":"/x","value":"y"}]`, 400),
		patch20("patch v2.0 with v2.1 syntax", "px", `[{"op":"replace","path":"/name","value":"x"}]`, 400),
		patch20("patch v2.0 read-only", "px", `[{"replace":"/status","value":"active"}]`, 403),
		patch("patch missing image", "nosuch", `[{"op":"replace","path":"/name","value":"x"}]`, 404),
		step{Name: "patch non-uuid image", Method: "PATCH", Path: "/v2/images/nope", Body: `[]`, Want: 404},
		show("show after patches", "p"),
		show("show px after rejected patches", "px"),

		create("patch fixture pa (active)", `{"id":"{id:pa}","name":"pa","disk_format":"raw","container_format":"bare"}`, 201),
		upload("patch fixture pa upload", "pa", data(10, 3), 204),
		patch("patch disk_format on active", "pa", `[{"op":"replace","path":"/disk_format","value":"qcow2"}]`, 403),
		patch("patch container_format on active", "pa", `[{"op":"replace","path":"/container_format","value":"ovf"}]`, 403),
		patch("patch same disk_format on active", "pa", `[{"op":"replace","path":"/disk_format","value":"raw"}]`, 0),
		patch("patch name on active", "pa", `[{"op":"replace","path":"/name","value":"pa2"}]`, 200),
	)

	// ---------------------------------------------------------------- tags
	add(
		create("tags fixture t", `{"id":"{id:t}","name":"t","tags":["old"]}`, 201),
		step{Name: "tag PUT new", Method: "PUT", Path: "/v2/images/{id:t}/tags/new", Want: 204},
		step{Name: "tag PUT again", Method: "PUT", Path: "/v2/images/{id:t}/tags/new", Want: 204},
		step{Name: "tag PUT 255 chars", Method: "PUT", Path: "/v2/images/{id:t}/tags/" + tag255, Want: 204},
		step{Name: "tag PUT 256 chars", Method: "PUT", Path: "/v2/images/{id:t}/tags/" + tag256, Want: 400},
		step{Name: "tag PUT encoded space", Method: "PUT", Path: "/v2/images/{id:t}/tags/a%20b", Want: 204},
		step{Name: "tag PUT with body", Method: "PUT", Path: "/v2/images/{id:t}/tags/body", Body: "x", Hdr: h("Content-Type", "-"), Want: 400},
		step{Name: "tag PUT missing image", Method: "PUT", Path: "/v2/images/{id:nosuch}/tags/x", Want: 404},
		step{Name: "tag DELETE", Method: "DELETE", Path: "/v2/images/{id:t}/tags/old", Want: 204},
		step{Name: "tag DELETE absent", Method: "DELETE", Path: "/v2/images/{id:t}/tags/old", Want: 404},
		step{Name: "tag DELETE missing image", Method: "DELETE", Path: "/v2/images/{id:nosuch}/tags/x", Want: 404},
		step{Name: "tag GET -> 405", Method: "GET", Path: "/v2/images/{id:t}/tags/new", Want: 405},
		show("show after tags", "t"),
	)

	// ------------------------------------------- deactivate / reactivate
	deact := func(name, img string, want int) step {
		return step{Name: name, Method: "POST", Path: "/v2/images/{id:" + img + "}/actions/deactivate", Want: want}
	}
	react := func(name, img string, want int) step {
		return step{Name: name, Method: "POST", Path: "/v2/images/{id:" + img + "}/actions/reactivate", Want: want}
	}
	daData := data(50, 4)
	add(
		create("deact fixture da", `{"id":"{id:da}","name":"da","disk_format":"raw","container_format":"bare"}`, 201),
		deact("deactivate queued", "da", 403),
		react("reactivate queued", "da", 403),
		upload("deact fixture upload", "da", daData, 204),
		react("reactivate active (no-op)", "da", 204),
		deact("deactivate active", "da", 204),
		deact("deactivate deactivated (no-op)", "da", 204),
		show("show deactivated", "da"),
		step{Name: "download deactivated (no-auth is admin)", Method: "GET", Path: "/v2/images/{id:da}/file", Want: 200},
		upload("upload to deactivated", "da", daData, 409),
		patch("patch name on deactivated", "da", `[{"op":"replace","path":"/name","value":"da2"}]`, 200),
		react("reactivate deactivated", "da", 204),
		show("show reactivated", "da"),
		deact("deactivate missing image", "nosuch", 404),
		react("reactivate missing image", "nosuch", 404),
		step{Name: "deactivate with body", Method: "POST", Path: "/v2/images/{id:da}/actions/deactivate", Body: "{}", Want: 400},
		step{Name: "GET deactivate -> 405", Method: "GET", Path: "/v2/images/{id:da}/actions/deactivate", Want: 405},
		step{Name: "unknown action", Method: "POST", Path: "/v2/images/{id:da}/actions/nope", Want: 404},
	)

	// -------------------------------------------------------------- upload
	cap1 := data(1048576, 5)
	over := data(1048577, 6)
	add(
		create("upload fixture u", `{"id":"{id:u}","name":"u","disk_format":"raw","container_format":"bare"}`, 201),
		step{Name: "upload wrong content-type", Method: "PUT", Path: "/v2/images/{id:u}/file", Raw: data(10, 7), Hdr: h("Content-Type", ctJSON), Want: 415},
		step{Name: "upload no content-type", Method: "PUT", Path: "/v2/images/{id:u}/file", Raw: data(10, 7), Hdr: h("Content-Type", "-"), Want: 415},
		show("show after rejected uploads", "u"),
		upload("upload", "u", data(1000, 8), 204),
		show("show after upload", "u"),
		upload("upload second time", "u", data(10, 9), 409),
		step{Name: "download full", Method: "GET", Path: "/v2/images/{id:u}/file", Want: 200},
		create("upload fixture un (no formats)", `{"id":"{id:un}","name":"un"}`, 201),
		upload("upload without formats", "un", data(10, 10), 400),
		create("upload fixture un1 (disk_format only)", `{"id":"{id:un1}","disk_format":"raw"}`, 201),
		upload("upload with only disk_format", "un1", data(10, 10), 400),
		show("show after upload without formats", "un"),
		create("upload fixture ucap", `{"id":"{id:ucap}","name":"ucap","disk_format":"raw","container_format":"bare"}`, 201),
		upload("upload over image_size_cap", "ucap", over, 413),
		show("show after over-cap upload", "ucap"),
		step{Name: "upload over cap chunked", Method: "PUT", Path: "/v2/images/{id:ucap}/file", Raw: over, Chunked: true, Want: 413},
		show("show after chunked over-cap upload", "ucap"),
		upload("upload exactly image_size_cap", "ucap", cap1, 204),
		show("show after at-cap upload", "ucap"),
		create("upload fixture uch", `{"id":"{id:uch}","name":"uch","disk_format":"raw","container_format":"bare"}`, 201),
		step{Name: "upload chunked", Method: "PUT", Path: "/v2/images/{id:uch}/file", Raw: data(777, 11), Chunked: true, Want: 204},
		show("show after chunked upload", "uch"),
		create("upload fixture uempty", `{"id":"{id:uempty}","name":"uempty","disk_format":"raw","container_format":"bare"}`, 201),
		step{Name: "upload empty body", Method: "PUT", Path: "/v2/images/{id:uempty}/file", Hdr: h("Content-Type", ctOctet), Want: 0},
		show("show after empty upload", "uempty"),
		create("upload fixture uxs", `{"id":"{id:uxs}","name":"uxs","disk_format":"raw","container_format":"bare"}`, 201),
		step{Name: "upload x-openstack-image-size bad", Method: "PUT", Path: "/v2/images/{id:uxs}/file", Raw: data(20, 8), Hdr: h("x-openstack-image-size", "abc"), Want: 0},
		show("show after x-openstack-image-size abc upload", "uxs"),
		create("upload fixture uxs2", `{"id":"{id:uxs2}","name":"uxs2","disk_format":"raw","container_format":"bare"}`, 201),
		step{Name: "upload x-openstack-image-size mismatch", Method: "PUT", Path: "/v2/images/{id:uxs2}/file", Raw: data(20, 8), Hdr: h("x-openstack-image-size", "5"), Want: 0},
		show("show after x-openstack-image-size mismatch upload", "uxs2"),
		upload("upload missing image", "nosuch", data(10, 12), 404),
		step{Name: "POST file -> 405", Method: "POST", Path: "/v2/images/{id:u}/file", Body: "{}", Want: 405},
		step{Name: "POST file, non-JSON body", Method: "POST", Path: "/v2/images/{id:u}/file", Raw: data(10, 12), Want: 0},
	)

	// ------------------------------------------------------------ download
	add(
		create("download fixture dl", `{"id":"{id:dl}","name":"dl","disk_format":"raw","container_format":"bare"}`, 201),
		step{Name: "download queued -> 204", Method: "GET", Path: "/v2/images/{id:dl}/file", Want: 204},
		rangeGet("download queued with range (Glance 500)", "dl", "bytes=0-1", 500),
		upload("download fixture upload", "dl", data(100, 13), 204),
		step{Name: "download full (dl)", Method: "GET", Path: "/v2/images/{id:dl}/file", Want: 200},
		rangeGet("range 10-19", "dl", "bytes=10-19", 206),
		rangeGet("range -5", "dl", "bytes=-5", 206),
		rangeGet("range 5-", "dl", "bytes=5-", 206),
		rangeGet("range 0-0", "dl", "bytes=0-0", 206),
		rangeGet("range end past size", "dl", "bytes=90-200", 206),
		rangeGet("range whole", "dl", "bytes=0-99", 206),
		rangeGet("range suffix larger than size", "dl", "bytes=-200", 0),
		rangeGet("range multi", "dl", "bytes=1-2,5-6", 400),
		rangeGet("range start beyond size", "dl", "bytes=5000-", 416),
		rangeGet("range start == size", "dl", "bytes=100-", 416),
		rangeGet("range inverted", "dl", "bytes=20-10", 0),
		rangeGet("range garbage", "dl", "bytes=abc", 0),
		rangeGet("range other unit", "dl", "items=0-5", 0),
		step{Name: "legacy Content-Range request", Method: "GET", Path: "/v2/images/{id:dl}/file", Hdr: h("Content-Range", "bytes 10-19/100"), Want: 206},
		step{Name: "legacy Content-Range unknown size", Method: "GET", Path: "/v2/images/{id:dl}/file", Hdr: h("Content-Range", "bytes 10-19/*"), Want: 0},
		step{Name: "download missing image", Method: "GET", Path: "/v2/images/{id:nosuch}/file", Want: 404},
		step{Name: "download with body", Method: "GET", Path: "/v2/images/{id:dl}/file", Body: "x", Hdr: h("Content-Type", "-"), Want: 400},
		step{Name: "HEAD file", Method: "HEAD", Path: "/v2/images/{id:dl}/file", Want: 405},
	)

	// -------------------------------------------------------------- delete
	add(
		create("delete fixture dp (protected)", `{"id":"{id:dp}","name":"dp","protected":true}`, 201),
		step{Name: "delete protected", Method: "DELETE", Path: "/v2/images/{id:dp}", Want: 403},
		patch("unprotect", "dp", `[{"op":"replace","path":"/protected","value":false}]`, 200),
		step{Name: "delete with body", Method: "DELETE", Path: "/v2/images/{id:dp}", Body: "x", Hdr: h("Content-Type", "-"), Want: 400},
		step{Name: "delete", Method: "DELETE", Path: "/v2/images/{id:dp}", Want: 204},
		step{Name: "delete twice", Method: "DELETE", Path: "/v2/images/{id:dp}", Want: 404},
		get("show deleted", "/v2/images/{id:dp}", 404),
		patch("patch deleted", "dp", `[{"op":"replace","path":"/name","value":"x"}]`, 404),
		step{Name: "download deleted", Method: "GET", Path: "/v2/images/{id:dp}/file", Want: 404},
		step{Name: "delete non-uuid", Method: "DELETE", Path: "/v2/images/nope", Want: 404},
		step{Name: "delete deactivated (da)", Method: "POST", Path: "/v2/images/{id:da}/actions/deactivate", Want: 204},
		step{Name: "delete deactivated", Method: "DELETE", Path: "/v2/images/{id:da}", Want: 204},
		step{Name: "delete active", Method: "DELETE", Path: "/v2/images/{id:u}", Want: 204},
		step{Name: "download after delete", Method: "GET", Path: "/v2/images/{id:u}/file", Want: 404},
		create("re-create a deleted id", `{"id":"{id:dp}"}`, 409),
	)

	// ------------------------------------------------ methods and routing
	add(
		step{Name: "PUT /v2/images -> 405", Method: "PUT", Path: "/v2/images", Body: "{}", Want: 405},
		step{Name: "DELETE /v2/images -> 405", Method: "DELETE", Path: "/v2/images", Want: 405},
		step{Name: "PATCH /v2/images -> 405", Method: "PATCH", Path: "/v2/images", Body: "[]", Want: 405},
		step{Name: "POST image -> 405", Method: "POST", Path: "/v2/images/{id:cfull}", Body: "{}", Want: 405},
		step{Name: "PUT image -> 405", Method: "PUT", Path: "/v2/images/{id:cfull}", Body: "{}", Want: 405},
		step{Name: "PUT /v2/images no Accept (text/plain 405)", Method: "PUT", Path: "/v2/images", Hdr: h("Accept", "-"), Want: 405},
		step{Name: "DELETE /v2/schemas/image -> 405", Method: "DELETE", Path: "/v2/schemas/image", Want: 405},
		// on a known route Glance answers 405 for any method it does not
		// route; 501 only where no route matches the path
		step{Name: "method FOO", Method: "FOO", Path: "/v2/images", Want: 405},
		step{Name: "method TRACE", Method: "TRACE", Path: "/v2/images", Want: 405},
		step{Name: "method PROPFIND", Method: "PROPFIND", Path: "/v2/images", Want: 405},
		step{Name: "method OPTIONS", Method: "OPTIONS", Path: "/v2/images", Want: 200},
		step{Name: "method FOO on unknown path", Method: "FOO", Path: "/v2/nope", Want: 501},
		step{Name: "method FOO on image", Method: "FOO", Path: "/v2/images/{id:cfull}", Want: 405},
		step{Name: "PUT /versions", Method: "PUT", Path: "/versions", Body: "{}", Want: 0},
		step{Name: "POST / (root)", Method: "POST", Path: "/", Body: "{}", Want: 0},
		get("routing /v2.9/images/{id}", "/v2.9/images/{id:cfull}", 200),
		get("routing /v2.15/images/{id}", "/v2.15/images/{id:cfull}", 200),
		get("unknown image subresource", "/v2/images/{id:cfull}/nope", 404),
		get("members list (shared image)", "/v2/images/{id:cshared}/members", 200),
		get("members list (private image)", "/v2/images/{id:cfull}/members", 403),
		get("image tasks (2.12, not advertised)", "/v2/images/{id:cfull}/tasks", 0),
		get("final list", "/v2/images?limit=100&visibility=all&os_hidden=true&sort_key=name&sort_dir=asc", 200),
	)
	return s
}
