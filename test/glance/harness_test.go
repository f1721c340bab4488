//go:build glance

// Package glance_test is a differential test: it sends the same requests
// to a reference Glance (GLANCE_URL) and to Glint (GLINT_URL) and reports
// every difference in status, important headers and bodies. See README.md.
package glance_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// step is one row of the request table. It is sent to Glance first, then
// to Glint, and the two responses are compared.
type step struct {
	Name   string
	Method string
	// Path may contain {id:NAME}: the id of fixture NAME on that server.
	Path string
	// Hdr adds or replaces request headers; a value "-" removes a default
	// one (Accept: application/json; Content-Type for bodies).
	Hdr  map[string]string
	Body string // may contain {id:NAME} too
	Raw  []byte // binary body (used instead of Body when set)
	// Chunked sends the body with Transfer-Encoding: chunked.
	Chunked bool
	// Want is the status the reference notes predict for Glance (0: no
	// prediction). A mismatch is logged, not counted as a difference.
	Want int
	// Capture stores the "id" of the JSON response under this name (per
	// server), for images created without an explicit id.
	Capture string
	// SortKey sorts the "images" array of a list response by this key
	// before comparing (for lists whose order is not under test).
	SortKey string
}

type response struct {
	status int
	hdr    http.Header
	body   []byte
}

type server struct {
	name   string // "Glance" / "Glint"
	base   string
	ids    map[string]string // fixture name -> id
	byID   map[string]string // id -> fixture name
	client *http.Client
}

func newServer(name, base string) *server {
	return &server{
		name: name, base: strings.TrimRight(base, "/"),
		ids: map[string]string{}, byID: map[string]string{},
		client: &http.Client{
			Timeout: 60 * time.Second,
			Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4,
				Proxy: nil},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

func (s *server) setID(name, id string) {
	s.ids[name] = id
	s.byID[strings.ToLower(id)] = name
}

var placeholder = regexp.MustCompile(`\{id:([A-Za-z0-9_]+)\}`)

func (s *server) expand(str string) string {
	return placeholder.ReplaceAllStringFunc(str, func(m string) string {
		name := placeholder.FindStringSubmatch(m)[1]
		if id, ok := s.ids[name]; ok {
			return id
		}
		return "00000000-0000-4000-8000-" + fmt.Sprintf("%012x", len(name)) // unknown fixture
	})
}

func (s *server) do(st step) (*response, error) {
	var body io.Reader
	var raw []byte
	switch {
	case st.Raw != nil:
		raw = st.Raw
	case st.Body != "":
		raw = []byte(s.expand(st.Body))
	}
	if raw != nil {
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(st.Method, s.base+s.expand(st.Path), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if raw != nil {
		switch st.Method {
		case "PATCH":
			req.Header.Set("Content-Type", "application/openstack-images-v2.1-json-patch")
		case "PUT":
			if strings.HasSuffix(st.Path, "/file") {
				req.Header.Set("Content-Type", "application/octet-stream")
			} else {
				req.Header.Set("Content-Type", "application/json")
			}
		default:
			req.Header.Set("Content-Type", "application/json")
		}
	}
	for k, v := range st.Hdr {
		if v == "-" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, s.expand(v))
		}
	}
	if st.Chunked && raw != nil {
		req.Body = io.NopCloser(io.MultiReader(bytes.NewReader(raw)))
		req.ContentLength = -1
		req.TransferEncoding = []string{"chunked"}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &response{status: resp.StatusCode, hdr: resp.Header, body: b}, nil
}

// ---------------------------------------------------------------------------
// Normalisation and comparison

var (
	uuidRE = regexp.MustCompile(`(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	tsRE   = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
	ridRE  = regexp.MustCompile(`^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// normString replaces the server's base URL, known ids (by fixture name),
// other UUIDs and Glance-format timestamps with stable tokens.
func (s *server) normString(v string) string {
	if tsRE.MatchString(v) {
		return "<timestamp>"
	}
	v = strings.ReplaceAll(v, s.base, "<base>")
	return uuidRE.ReplaceAllStringFunc(v, func(id string) string {
		if n, ok := s.byID[strings.ToLower(id)]; ok {
			return "<id:" + n + ">"
		}
		return "<uuid>"
	})
}

func (s *server) norm(v any, key string) any {
	switch x := v.(type) {
	case string:
		return s.normString(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = s.norm(e, "")
		}
		if key == "tags" { // a set in Glance: order is not kept
			sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i]) < fmt.Sprint(out[j]) })
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = s.norm(e, k)
		}
		return out
	}
	return v
}

func shorten(k string) string {
	if len(k) > 40 {
		return fmt.Sprintf("%s...(%d chars)", k[:20], len(k))
	}
	return k
}

func excerpt(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 160 {
		return string(b[:157]) + "..."
	}
	return string(b)
}

// diffJSON lists the differences between a (Glance) and b (Glint).
func diffJSON(path string, a, b any, out *[]string) {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			*out = append(*out, fmt.Sprintf("%s: Glance %s vs Glint %s", path, excerpt(a), excerpt(b)))
			return
		}
		keys := map[string]bool{}
		for k := range x {
			keys[k] = true
		}
		for k := range y {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			av, aok := x[k]
			bv, bok := y[k]
			p := path + "." + shorten(k)
			switch {
			case !bok:
				*out = append(*out, fmt.Sprintf("%s: only in Glance (= %s)", p, excerpt(av)))
			case !aok:
				*out = append(*out, fmt.Sprintf("%s: only in Glint (= %s)", p, excerpt(bv)))
			default:
				diffJSON(p, av, bv, out)
			}
		}
	case []any:
		y, ok := b.([]any)
		if !ok {
			*out = append(*out, fmt.Sprintf("%s: Glance %s vs Glint %s", path, excerpt(a), excerpt(b)))
			return
		}
		if len(x) != len(y) {
			*out = append(*out, fmt.Sprintf("%s: Glance has %d items %s vs Glint %d items %s", path, len(x), excerpt(summarise(x)), len(y), excerpt(summarise(y))))
			return
		}
		// lists of images: a different selection/order is one difference
		if ids(x) != ids(y) {
			*out = append(*out, fmt.Sprintf("%s: Glance lists %s vs Glint %s", path, ids(x), ids(y)))
			return
		}
		for i := range x {
			diffJSON(fmt.Sprintf("%s[%d]", path, i), x[i], y[i], out)
		}
	default:
		if fmt.Sprintf("%T:%v", a, a) != fmt.Sprintf("%T:%v", b, b) {
			*out = append(*out, fmt.Sprintf("%s: Glance %s vs Glint %s", path, excerpt(a), excerpt(b)))
		}
	}
}

// ids is the sequence of "id" members of a list of objects ("" if none).
func ids(l []any) string {
	var out []string
	for _, e := range l {
		m, ok := e.(map[string]any)
		if !ok {
			return ""
		}
		id, ok := m["id"].(string)
		if !ok {
			return ""
		}
		out = append(out, id)
	}
	return "[" + strings.Join(out, " ") + "]"
}

// summarise shows a list of images as their names/ids.
func summarise(l []any) []any {
	out := make([]any, len(l))
	for i, e := range l {
		if m, ok := e.(map[string]any); ok {
			if n, ok := m["name"]; ok {
				out[i] = n
				continue
			}
			if n, ok := m["id"]; ok {
				out[i] = n
				continue
			}
		}
		out[i] = e
	}
	return out
}

// diff categories, most important first
const (
	catStatus  = "1-status"
	catHeader  = "2-header"
	catBody    = "3-body"
	catWording = "4-wording"
)

var catTitle = map[string]string{
	catStatus:  "Status code differences",
	catHeader:  "Header differences",
	catBody:    "Body shape/content differences",
	catWording: "Error message wording differences",
}

type finding struct {
	cat, step, req, text string
}

type recorder struct {
	mu       sync.Mutex
	findings []finding
	notes    []string
}

func (r *recorder) add(t *testing.T, cat string, st step, req, format string, args ...any) {
	t.Helper()
	f := finding{cat: cat, step: st.Name, req: req, text: fmt.Sprintf(format, args...)}
	r.mu.Lock()
	r.findings = append(r.findings, f)
	r.mu.Unlock()
	if cat == catWording && os.Getenv("GLANCE_DIFF_WORDING") == "" {
		t.Logf("[%s] %s", cat, f.text)
		return
	}
	t.Errorf("[%s] %s", cat, f.text)
}

func (r *recorder) note(t *testing.T, format string, args ...any) {
	t.Helper()
	s := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.notes = append(r.notes, s)
	r.mu.Unlock()
	t.Log("note: " + s)
}

func (r *recorder) report() string {
	var b strings.Builder
	cats := []string{catStatus, catHeader, catBody, catWording}
	fmt.Fprintf(&b, "Glance vs Glint differential report: %d differences\n", len(r.findings))
	for _, c := range cats {
		// identical differences (ids aside) seen in several requests are
		// listed once, with the requests they occurred in
		type group struct {
			text string
			reqs []string
		}
		var groups []*group
		byText := map[string]*group{}
		n := 0
		for _, f := range r.findings {
			if f.cat != c {
				continue
			}
			n++
			key := uuidRE.ReplaceAllString(f.text, "<uuid>")
			g, ok := byText[key]
			if !ok {
				g = &group{text: f.text}
				byText[key] = g
				groups = append(groups, g)
			}
			g.reqs = append(g.reqs, "["+f.step+"] "+f.req)
		}
		fmt.Fprintf(&b, "\n== %s (%d)\n", catTitle[c], n)
		for _, g := range groups {
			if len(g.reqs) == 1 {
				fmt.Fprintf(&b, "- %s\n    %s\n", g.reqs[0], indent(g.text))
				continue
			}
			fmt.Fprintf(&b, "- %s\n    in %d requests:\n", indent(g.text), len(g.reqs))
			for _, q := range g.reqs {
				fmt.Fprintf(&b, "      %s\n", q)
			}
		}
	}
	if len(r.notes) > 0 {
		fmt.Fprintf(&b, "\n== Notes (table expectations not met by Glance, setup problems) (%d)\n", len(r.notes))
		for _, n := range r.notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n    ") }

// errMessage extracts the human text of an error body for reporting.
func errMessage(ctype string, body []byte) string {
	mt, _, _ := mime.ParseMediaType(ctype)
	if mt == "application/json" {
		var m map[string]any
		if json.Unmarshal(body, &m) == nil {
			if s, ok := m["message"].(string); ok {
				return cleanMsg(s)
			}
		}
	}
	s := string(body)
	if mt == "text/html" {
		s = regexp.MustCompile(`(?s)<[^>]*>`).ReplaceAllString(s, " ")
	}
	return cleanMsg(s)
}

func cleanMsg(s string) string {
	s = strings.ReplaceAll(s, "<br /><br />", " | ")
	s = strings.Join(strings.Fields(s), " ")
	s = strings.TrimSuffix(s, " |")
	if len(s) > 220 {
		s = s[:217] + "..."
	}
	return s
}

func bodyExcerpt(ctype string, body []byte, status int) string {
	if status >= 400 || status == 300 {
		if status >= 400 {
			return fmt.Sprintf("%q", errMessage(ctype, body))
		}
	}
	if len(body) == 0 {
		return "(empty body)"
	}
	mt, _, _ := mime.ParseMediaType(ctype)
	if mt == "application/json" {
		s := strings.Join(strings.Fields(string(body)), " ")
		if len(s) > 160 {
			s = s[:157] + "..."
		}
		return s
	}
	return fmt.Sprintf("(%d bytes of %s)", len(body), ctype)
}

func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
