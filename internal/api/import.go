package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"glint/internal/errs"
	"glint/internal/importer"
	"glint/internal/obs"
)

// importRoutes adds the interoperable import and tasks routes; without an
// Importer they answer as Glance does with every import method disabled.
func (s *Server) importRoutes() {
	s.route("/v2/images/{id}/stage", methods{"PUT": s.stage})
	s.route("/v2/images/{id}/import", methods{"POST": s.importImage})
	s.route("/v2/images/{id}/tasks", methods{"GET": s.imageTasks}, "GET")
	s.route("/v2/tasks", methods{"GET": s.listTasks, "POST": s.createTask}, "GET")
	s.route("/v2/tasks/{task_id}", methods{"GET": s.showTask, "DELETE": s.deleteTask}, "GET", "DELETE")
	for _, name := range []string{"task", "tasks"} {
		s.route("/v2/schemas/"+name, methods{"GET": s.taskSchema(name)}, "GET")
	}
}

// importer is the Importer, or, when there is none, the 404 Glance gives
// with every import method disabled.
func (s *Server) importer() (*importer.Importer, error) {
	if s.cfg.Importer == nil {
		return nil, errs.E(errs.Op("api.importer"), errs.NotFound)
	}
	return s.cfg.Importer, nil
}

func (s *Server) stage(w http.ResponseWriter, r *http.Request) error {
	const op errs.Op = "api.stage"
	im, err := s.importer()
	if err != nil {
		return err
	}
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); mt != "application/octet-stream" {
		return errs.Errorf(op, errs.BadFormat, "The request media type %s is not supported by this server.", ct)
	}
	s.cfg.Metrics.UploadStarted(obs.Stage)
	defer s.cfg.Metrics.UploadEnded(obs.Stage)
	size := r.ContentLength
	if h := r.Header.Get("X-Openstack-Image-Size"); h != "" {
		n, err := strconv.ParseInt(h, 10, 64)
		if err != nil || n < 0 {
			return errs.Errorf(op, errs.Invalid, "x-openstack-image-size must be a non-negative integer, not %q", h)
		}
		size = n
	}
	if err := im.Stage(r.Context(), r.PathValue("id"), r.Body, size); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (s *Server) importImage(w http.ResponseWriter, r *http.Request) error {
	const op errs.Op = "api.importImage"
	im, err := s.importer()
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(body)) == "" {
		return errs.E(op, errs.Invalid, "Body expected in request.")
	}
	req, err := importer.ParseRequest(body, im.Methods())
	if err != nil {
		return err
	}
	// With one store Glance ignores stores, all_stores and the
	// X-Image-Meta-Store header (it reads them only with enabled_backends).
	if s.multiStore() {
		req.HeaderStore = strings.TrimSpace(r.Header.Get("X-Image-Meta-Store"))
	}
	if req.Method == importer.MethodGlanceDirect && r.Header.Get(proxiedHeader) == "" {
		if host := im.StagedElsewhere(r.Context(), r.PathValue("id")); host != "" {
			return s.proxyImport(w, r, host, body)
		}
	}
	if err := im.Import(r.Context(), r.PathValue("id"), req); err != nil {
		return err
	}
	// An empty body as WebOb sends it: a JSON content type would make
	// glanceclient try to decode it.
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// proxiedHeader marks a request one node forwards to another (an import
// or a delete of staged data), so that it is never forwarded again.
const proxiedHeader = "X-Glint-Proxied-Import"

// newProxyClient is the client that forwards requests between nodes. It
// follows no redirect: the caller's token goes to the stage host only,
// never to wherever that host might point.
func newProxyClient() *http.Client {
	return &http.Client{Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// proxyImport forwards a glance-direct import to the node that holds the
// staged data (os_glance_stage_host), with the caller's headers (and so
// its token), and relays the answer, as Glance does: 504 when that node
// does not answer, 502 when the exchange fails otherwise. The answer it
// relays, an error or not, is the other node's.
func (s *Server) proxyImport(w http.ResponseWriter, r *http.Request, host string, body []byte) error {
	a, err := s.forward(r, host, http.MethodPost, "/import", body)
	if err != nil {
		return err
	}
	a.relay(w)
	return nil
}

// answer is another node's answer to a forwarded request.
type answer struct {
	status      int
	contentType string
	body        []byte
}

func (a answer) relay(w http.ResponseWriter) {
	if a.contentType != "" {
		w.Header().Set("Content-Type", a.contentType)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(a.status)
	w.Write(a.body)
}

// forward sends r's request for the image (method, the image's path plus
// suffix, body) to host with the caller's headers, marked as forwarded.
// The error, when that node cannot be asked, is Glance's 504 (no answer)
// or 502.
func (s *Server) forward(r *http.Request, host, method, suffix string, body []byte) (answer, error) {
	const op errs.Op = "api.forward"
	unavailable := func(status int, err error) error {
		return &httpError{status: status, err: errs.E(op, "Stage host is unavailable", err)}
	}
	target := strings.TrimSuffix(host, "/") + "/v2/images/" + url.PathEscape(r.PathValue("id")) + suffix
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(r.Context(), method, target, rd)
	if err != nil {
		return answer{}, unavailable(http.StatusBadGateway, err)
	}
	for k, v := range r.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Connection", "Content-Length", "Transfer-Encoding", "Keep-Alive", "Te", "Trailer", "Upgrade", "Proxy-Authorization":
		default:
			req.Header[k] = v
		}
	}
	req.Header.Set(proxiedHeader, "1")
	s.log.InfoContext(r.Context(), "forwarding a request to the node holding the staged data", "request_id", requestID(r),
		"image_id", r.PathValue("id"), "method", method, "stage_host", host)
	resp, err := s.proxy.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.ECONNREFUSED) {
			return answer{}, unavailable(http.StatusGatewayTimeout, err)
		}
		return answer{}, unavailable(http.StatusBadGateway, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxJSONBody))
	return answer{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: b}, nil
}

// dbTime is how Glance's GET /v2/images/{id}/tasks renders timestamps:
// the raw rows through Python's JSON encoder.
const dbTimeLayout = "2006-01-02T15:04:05.000000"

func optTime(t *time.Time, layout string) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format(layout)
}

func (s *Server) imageTasks(w http.ResponseWriter, r *http.Request) error {
	im, err := s.importer()
	if err != nil {
		return err
	}
	tasks, err := im.ImageTasks(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(tasks))
	for _, t := range tasks {
		out = append(out, map[string]any{
			"id": t.ID, "type": t.Type, "status": string(t.Status), "owner": t.Owner,
			"expires_at": optTime(t.ExpiresAt, dbTimeLayout), "created_at": t.CreatedAt.UTC().Format(dbTimeLayout),
			"updated_at": t.UpdatedAt.UTC().Format(dbTimeLayout), "deleted_at": optTime(t.DeletedAt, dbTimeLayout),
			"deleted": t.Deleted, "image_id": t.ImageID, "request_id": t.RequestID, "user_id": t.UserID,
			"input": publicInput(t.Input), "result": t.Result, "message": t.Message,
		})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"tasks": out})
}

// publicInput hides Glint's own bookkeeping (the node that runs the task)
// from the task input shown to users.
func publicInput(in map[string]any) map[string]any {
	if in == nil {
		return nil
	}
	out := make(map[string]any, len(in))
	for k, v := range in {
		if !strings.HasPrefix(k, "glint_") {
			out[k] = v
		}
	}
	return out
}

func taskView(t *importer.Task, full bool) map[string]any {
	v := map[string]any{
		"id": t.ID, "type": t.Type, "status": string(t.Status), "owner": t.Owner,
		"created_at": t.CreatedAt.UTC().Format(timeLayout), "updated_at": t.UpdatedAt.UTC().Format(timeLayout),
		"self": "/v2/tasks/" + t.ID, "schema": "/v2/schemas/task",
	}
	if t.ExpiresAt != nil {
		v["expires_at"] = t.ExpiresAt.UTC().Format(timeLayout)
	}
	if !full {
		return v
	}
	v["input"], v["result"], v["message"] = publicInput(t.Input), t.Result, t.Message
	if t.ImageID != nil {
		v["image_id"] = *t.ImageID
	}
	if t.RequestID != nil {
		v["request_id"] = *t.RequestID
	}
	if t.UserID != nil {
		v["user_id"] = *t.UserID
	}
	return v
}

func (s *Server) showTask(w http.ResponseWriter, r *http.Request) error {
	im, err := s.importer()
	if err != nil {
		return err
	}
	t, err := im.GetTask(r.Context(), r.PathValue("task_id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, taskView(t, true))
}

func (s *Server) deleteTask(w http.ResponseWriter, r *http.Request) error {
	im, err := s.importer()
	if err != nil {
		return err
	}
	if err := im.AuthorizeTasksAPI(r.Context()); err != nil {
		return err
	}
	// Glance answers with a plain-text 405 whose body is only the explanation.
	return &httpError{status: http.StatusMethodNotAllowed, header: http.Header{"Allow": {"GET"}},
		ctype: "text/plain; charset=UTF-8",
		body:  "This operation is currently not permitted on Glance Tasks. They are auto deleted after reaching the time based on their expires_at property.",
		err:   errs.E(errs.Op("api.deleteTask"), "tasks are not deleted through the API")}
}

var taskStatuses = []string{"pending", "processing", "success", "failure"}

func (s *Server) listTasks(w http.ResponseWriter, r *http.Request) error {
	const op errs.Op = "api.listTasks"
	im, err := s.importer()
	if err != nil {
		return err
	}
	if err := im.AuthorizeTasksAPI(r.Context()); err != nil {
		return err
	}
	qv := r.URL.Query()
	q := importer.TaskQuery{SortKey: "created_at", SortDir: "desc", Limit: s.cfg.LimitParamDefault}
	if v := qv.Get("sort_dir"); qv.Has("sort_dir") {
		if v != "asc" && v != "desc" {
			return errs.Errorf(op, errs.Invalid, "Invalid sort direction: %s", v)
		}
		q.SortDir = v
	}
	if qv.Has("sort_key") {
		q.SortKey = qv.Get("sort_key")
	}
	if v := qv.Get("status"); v != "" {
		if !contains(taskStatuses, v) {
			return errs.Errorf(op, errs.Invalid, "Invalid status value: %s", v)
		}
		q.Status = v
	}
	if v := qv.Get("type"); v != "" {
		if v != "import" {
			return errs.Errorf(op, errs.Invalid, "Invalid type value: %s", v)
		}
		q.Type = v
	}
	if qv.Has("marker") {
		m := qv.Get("marker")
		if _, err := uuid.Parse(m); err != nil || len(m) != 36 && len(m) != 32 {
			return errs.E(op, errs.Invalid, "Invalid marker format")
		}
		q.Marker = m
	}
	if qv.Has("limit") {
		n, err := strconv.Atoi(qv.Get("limit"))
		if err != nil {
			return errs.E(op, errs.Invalid, "limit param must be an integer")
		}
		if n < 0 {
			return errs.E(op, errs.Invalid, "limit param must be positive")
		}
		q.Limit = n
	}
	if q.Limit > s.cfg.APILimitMax {
		q.Limit = s.cfg.APILimitMax
	}
	tasks, err := im.ListTasks(r.Context(), q)
	if err != nil {
		return err
	}
	list := make([]map[string]any, 0, len(tasks))
	for _, t := range tasks {
		list = append(list, taskView(t, false))
	}
	params := url.Values{}
	for k, v := range qv {
		if k != "marker" {
			params[k] = v
		}
	}
	body := map[string]any{"tasks": list, "first": "/v2/tasks", "schema": "/v2/schemas/tasks"}
	if enc := params.Encode(); enc != "" {
		body["first"] = "/v2/tasks?" + enc
	}
	if len(tasks) > 0 && len(tasks) == q.Limit {
		params.Set("marker", tasks[len(tasks)-1].ID)
		body["next"] = "/v2/tasks?" + params.Encode()
	}
	return writeJSON(w, http.StatusOK, body)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func (s *Server) createTask(w http.ResponseWriter, r *http.Request) error {
	const op errs.Op = "api.createTask"
	im, err := s.importer()
	if err != nil {
		return err
	}
	if err := im.AuthorizeTasksAPI(r.Context()); err != nil {
		return err
	}
	body, err := readJSON(r)
	if err != nil {
		return err
	}
	for _, k := range []string{"type", "input"} {
		if _, ok := body[k]; !ok {
			return errs.Errorf(op, errs.Invalid, "Task '%s' is required", k)
		}
	}
	if err := s.taskSchemaValidate(body); err != nil {
		return errs.E(op, errs.Invalid, err.Error())
	}
	typ, _ := body["type"].(string)
	input, _ := body["input"].(map[string]any)
	t, err := im.CreateLegacyTask(r.Context(), typ, input)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v2/tasks/"+t.ID)
	return writeJSON(w, http.StatusCreated, taskView(t, true))
}

func (s *Server) taskSchemaValidate(body map[string]any) error {
	raw, err := schemaFiles.ReadFile("schemas/task.json")
	if err != nil {
		return err
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(raw)))
	if err != nil {
		return err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("task.json", doc); err != nil {
		return err
	}
	sch, err := c.Compile("task.json")
	if err != nil {
		return err
	}
	// Round-trip so numbers are in the form the validator expects.
	b, _ := json.Marshal(body)
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	if err != nil {
		return err
	}
	if err := sch.Validate(v); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return errors.New(ve.Error())
		}
		return err
	}
	return nil
}

func (s *Server) taskSchema(name string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		b, err := schemaFiles.ReadFile("schemas/" + name + ".json")
		if err != nil {
			return err
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, v)
	}
}
