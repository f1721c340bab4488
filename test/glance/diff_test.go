//go:build glance

package glance_test

import (
	"encoding/json"
	"fmt"
	"mime"
	"os"
	"sort"
	"strings"
	"testing"
)

// TestGlanceVsGlint runs the request table (steps.go) against both servers.
func TestGlanceVsGlint(t *testing.T) {
	gURL, lURL := os.Getenv("GLANCE_URL"), os.Getenv("GLINT_URL")
	if gURL == "" || lURL == "" {
		t.Skip("set GLANCE_URL and GLINT_URL (see README.md)")
	}
	g, l := newServer("Glance", gURL), newServer("Glint", lURL)
	for _, s := range []*server{g, l} {
		if _, err := s.do(step{Method: "GET", Path: "/versions"}); err != nil {
			t.Fatalf("%s at %s does not answer: %v", s.name, s.base, err)
		}
	}
	rec := &recorder{}
	for _, s := range []*server{g, l} {
		if n, err := cleanup(s); err != nil {
			rec.note(t, "cleanup of %s: %v", s.name, err)
		} else if n > 0 {
			t.Logf("cleanup: deleted %d old images on %s", n, s.name)
		}
	}
	steps := buildSteps()
	// Every fixture name used in a placeholder gets one fresh id, the same
	// on both servers, unless the step table captures it from a response.
	captured := map[string]bool{}
	for _, st := range steps {
		if st.Capture != "" {
			captured[st.Capture] = true
		}
	}
	for _, st := range steps {
		for _, s := range []string{st.Path, st.Body} {
			for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
				if _, ok := g.ids[m[1]]; !ok && !captured[m[1]] {
					id := newID()
					g.setID(m[1], id)
					l.setID(m[1], id)
				}
			}
		}
	}
	for i, st := range steps {
		st := st
		t.Run(fmt.Sprintf("%03d_%s", i, st.Name), func(t *testing.T) { runStep(t, rec, g, l, st) })
	}
	report := rec.report()
	t.Log("\n" + report)
	if p := os.Getenv("GLANCE_DIFF_REPORT"); p != "" {
		if err := os.WriteFile(p, []byte(report), 0o644); err != nil {
			t.Errorf("writing report: %v", err)
		}
	}
}

// cleanup deletes every image a server lists, so that list results only
// hold this run's fixtures.
func cleanup(s *server) (int, error) {
	seen := map[string]bool{}
	for _, q := range []string{
		"/v2/images?limit=1000&visibility=all&member_status=all&os_hidden=false",
		"/v2/images?limit=1000&visibility=all&member_status=all&os_hidden=true",
	} {
		r, err := s.do(step{Method: "GET", Path: q})
		if err != nil {
			return 0, err
		}
		if r.status != 200 {
			return 0, fmt.Errorf("GET %s: %d %s", q, r.status, r.body)
		}
		var l struct {
			Images []struct {
				ID string `json:"id"`
			} `json:"images"`
		}
		if err := json.Unmarshal(r.body, &l); err != nil {
			return 0, err
		}
		for _, im := range l.Images {
			seen[im.ID] = true
		}
	}
	n := 0
	for id := range seen {
		s.do(step{Method: "PATCH", Path: "/v2/images/" + id,
			Body: `[{"op":"replace","path":"/protected","value":false}]`})
		r, err := s.do(step{Method: "DELETE", Path: "/v2/images/" + id})
		if err != nil {
			return n, err
		}
		if r.status == 204 {
			n++
		}
	}
	return n, nil
}

func describe(st step) string {
	var b strings.Builder
	b.WriteString(st.Method + " " + st.Path)
	keys := make([]string, 0, len(st.Hdr))
	for k := range st.Hdr {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " [%s: %s]", k, st.Hdr[k])
	}
	switch {
	case st.Raw != nil:
		fmt.Fprintf(&b, " (%d-byte body%s)", len(st.Raw), map[bool]string{true: ", chunked"}[st.Chunked])
	case st.Body != "":
		body := st.Body
		if len(body) > 140 {
			body = body[:137] + "..."
		}
		b.WriteString(" " + body)
	}
	return b.String()
}

func mediaType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ct
	}
	return mt
}

func runStep(t *testing.T, rec *recorder, g, l *server, st step) {
	req := describe(st)
	rg, err := g.do(st)
	if err != nil {
		rec.note(t, "%s: Glance request failed: %v", req, err)
		return
	}
	rl, err := l.do(st)
	if err != nil {
		rec.add(t, catStatus, st, req, "Glance %d %s vs Glint: request failed: %v", rg.status,
			bodyExcerpt(rg.hdr.Get("Content-Type"), rg.body, rg.status), err)
		return
	}
	if st.Capture != "" {
		for _, p := range []struct {
			s *server
			r *response
		}{{g, rg}, {l, rl}} {
			var m map[string]any
			if json.Unmarshal(p.r.body, &m) == nil {
				if id, ok := m["id"].(string); ok {
					p.s.setID(st.Capture, id)
				}
			}
		}
	}
	if st.Want != 0 && rg.status != st.Want {
		rec.note(t, "[%s] %s: table expected Glance %d, got %d %s", st.Name, req, st.Want, rg.status,
			bodyExcerpt(rg.hdr.Get("Content-Type"), rg.body, rg.status))
	}
	gct, lct := rg.hdr.Get("Content-Type"), rl.hdr.Get("Content-Type")
	if rg.status != rl.status {
		extra := ""
		for _, hname := range []string{"Allow", "Location"} {
			if gv, lv := rg.hdr.Get(hname), rl.hdr.Get(hname); gv != "" || lv != "" {
				extra += fmt.Sprintf(" (%s: Glance %q, Glint %q)", hname, g.normString(gv), l.normString(lv))
			}
		}
		rec.add(t, catStatus, st, req, "Glance %d %s vs Glint %d %s%s", rg.status, bodyExcerpt(gct, rg.body, rg.status),
			rl.status, bodyExcerpt(lct, rl.body, rl.status), extra)
		return
	}
	compareHeaders(t, rec, g, l, st, req, rg, rl)
	compareBodies(t, rec, g, l, st, req, rg, rl)
}

func compareHeaders(t *testing.T, rec *recorder, g, l *server, st step, req string, rg, rl *response) {
	hdr := func(name string, norm bool) {
		gv, gok := rg.hdr[httpCanon(name)]
		lv, lok := rl.hdr[httpCanon(name)]
		gs, ls := strings.Join(gv, ", "), strings.Join(lv, ", ")
		if norm {
			gs, ls = g.normString(gs), l.normString(ls)
		}
		switch {
		case gok && !lok:
			rec.add(t, catHeader, st, req, "%s: Glance %q, Glint sends none", name, gs)
		case !gok && lok:
			rec.add(t, catHeader, st, req, "%s: Glance sends none, Glint %q", name, ls)
		case gs != ls:
			rec.add(t, catHeader, st, req, "%s: Glance %q vs Glint %q", name, gs, ls)
		}
	}
	hdr("Content-Type", false)
	hdr("Location", true)
	hdr("Allow", false)
	hdr("Accept-Patch", false)
	hdr("Content-MD5", false)
	hdr("Content-Range", false)
	hdr("OpenStack-image-import-methods", false)
	hdr("OpenStack-image-store-ids", false)
	if mediaType(rg.hdr.Get("Content-Type")) != "application/json" || rg.status == 204 {
		// JSON bodies differ in length through formatting only
		hdr("Content-Length", false)
	}
	gid, lid := rg.hdr.Get("X-Openstack-Request-Id"), rl.hdr.Get("X-Openstack-Request-Id")
	switch {
	case gid != "" && lid == "":
		rec.add(t, catHeader, st, req, "x-openstack-request-id: Glance sends %q, Glint none", gid)
	case gid == "" && lid != "":
		rec.add(t, catHeader, st, req, "x-openstack-request-id: Glance sends none, Glint %q", lid)
	case gid != "" && ridRE.MatchString(gid) != ridRE.MatchString(lid):
		rec.add(t, catHeader, st, req, "x-openstack-request-id format: Glance %q vs Glint %q", gid, lid)
	}
}

func httpCanon(name string) string {
	// http.Header keys are canonicalised by net/http
	parts := strings.Split(strings.ToLower(name), "-")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "-")
}

func compareBodies(t *testing.T, rec *recorder, g, l *server, st step, req string, rg, rl *response) {
	gmt, lmt := mediaType(rg.hdr.Get("Content-Type")), mediaType(rl.hdr.Get("Content-Type"))
	if rg.status >= 400 {
		compareErrors(t, rec, st, req, rg, rl, gmt, lmt)
		return
	}
	if gmt == "application/json" && lmt == "application/json" && len(rg.body) > 0 && len(rl.body) > 0 {
		var ga, la any
		gerr, lerr := json.Unmarshal(rg.body, &ga), json.Unmarshal(rl.body, &la)
		if gerr != nil || lerr != nil {
			rec.add(t, catBody, st, req, "JSON parse: Glance %v, Glint %v", gerr, lerr)
			return
		}
		ga, la = g.norm(ga, ""), l.norm(la, "")
		if st.SortKey != "" {
			sortImages(ga, st.SortKey)
			sortImages(la, st.SortKey)
		}
		var diffs []string
		diffJSON("$", ga, la, &diffs)
		if len(diffs) > 25 {
			diffs = append(diffs[:25], fmt.Sprintf("... and %d more", len(diffs)-25))
		}
		for _, d := range diffs {
			rec.add(t, catBody, st, req, "%s", d)
		}
		return
	}
	if string(rg.body) != string(rl.body) {
		if len(rg.body) < 200 && len(rl.body) < 200 {
			rec.add(t, catBody, st, req, "body: Glance %q vs Glint %q", g.normString(string(rg.body)), l.normString(string(rl.body)))
		} else {
			rec.add(t, catBody, st, req, "body: Glance %d bytes vs Glint %d bytes (different content)", len(rg.body), len(rl.body))
		}
	}
}

func sortImages(v any, key string) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	l, ok := m["images"].([]any)
	if !ok {
		return
	}
	sort.SliceStable(l, func(i, j int) bool {
		a, _ := l[i].(map[string]any)
		b, _ := l[j].(map[string]any)
		return fmt.Sprint(a[key]) < fmt.Sprint(b[key])
	})
}

func compareErrors(t *testing.T, rec *recorder, st step, req string, rg, rl *response, gmt, lmt string) {
	gmsg, lmsg := errMessage(rg.hdr.Get("Content-Type"), rg.body), errMessage(rl.hdr.Get("Content-Type"), rl.body)
	if gmt != lmt {
		// the header comparison already reported it; add the shapes
		rec.add(t, catBody, st, req, "error body format: Glance %s %q vs Glint %s %q", gmt, gmsg, lmt, lmsg)
		return
	}
	switch gmt {
	case "application/json":
		var ga, la map[string]any
		gerr, lerr := json.Unmarshal(rg.body, &ga), json.Unmarshal(rl.body, &la)
		if gerr != nil || lerr != nil {
			rec.add(t, catBody, st, req, "error JSON: Glance parse error %v, Glint parse error %v (Glint body %q)", gerr, lerr, string(rl.body))
			return
		}
		gk, lk := keysOf(ga), keysOf(la)
		if gk != lk {
			rec.add(t, catBody, st, req, "error JSON keys: Glance %s vs Glint %s", gk, lk)
		}
		for _, k := range []string{"code", "title"} {
			if fmt.Sprint(ga[k]) != fmt.Sprint(la[k]) {
				rec.add(t, catBody, st, req, "error JSON %s: Glance %q vs Glint %q", k, ga[k], la[k])
			}
		}
		if gm, lm := fmt.Sprint(ga["message"]), fmt.Sprint(la["message"]); gm != lm {
			if gmsg == lmsg { // same words, different whitespace/markup
				rec.add(t, catWording, st, req, "message (%d) differs in whitespace only: Glance %q vs Glint %q", rg.status, gm, lm)
			} else {
				rec.add(t, catWording, st, req, "message (%d): Glance %q vs Glint %q", rg.status, gmsg, lmsg)
			}
		}
	case "text/plain", "text/html":
		gl, ll := firstLine(gmt, rg.body), firstLine(lmt, rl.body)
		if gl != ll {
			rec.add(t, catBody, st, req, "error %s status line: Glance %q vs Glint %q", gmt, gl, ll)
		}
		if string(rg.body) != string(rl.body) {
			if gmsg == lmsg {
				rec.add(t, catWording, st, req, "%s body (%d) differs in whitespace only: Glance %q vs Glint %q", gmt, rg.status, string(rg.body), string(rl.body))
			} else {
				rec.add(t, catWording, st, req, "%s message (%d): Glance %q vs Glint %q", gmt, rg.status, gmsg, lmsg)
			}
		}
	default:
		if string(rg.body) != string(rl.body) {
			rec.add(t, catWording, st, req, "%s body (%d): Glance %q vs Glint %q", gmt, rg.status, gmsg, lmsg)
		}
	}
}

func keysOf(m map[string]any) string {
	k := make([]string, 0, len(m))
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return strings.Join(k, ",")
}

func firstLine(mt string, b []byte) string {
	s := string(b)
	if mt == "text/html" {
		if i := strings.Index(s, "<title>"); i >= 0 {
			s = s[i+7:]
			if j := strings.Index(s, "</title>"); j >= 0 {
				return s[:j]
			}
		}
	}
	line, _, _ := strings.Cut(s, "\n")
	return line
}
