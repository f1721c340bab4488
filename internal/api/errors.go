package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"glint/internal/auth"
	"glint/internal/errs"
	"glint/internal/framing"
	"glint/internal/store"
)

// handlerFunc is an API handler: it writes its success response itself
// and returns any failure, which writeError (through Server.handler)
// answers. A handler never writes an error response of its own.
type handlerFunc func(http.ResponseWriter, *http.Request) error

// handler adapts h to net/http: h's error is answered by writeError.
func (s *Server) handler(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if nulInRequestLine(r) {
			s.writeError(w, r, errs.E(errs.Op("api.handler"), errs.Invalid, nulMessage))
			return
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// httpError is a refusal of the HTTP layer itself, which no Kind names,
// or an error whose answer needs more than its Kind gives: a status of its
// own (a method the path lacks, a method no path has, a node an import is
// forwarded to that fails), headers the answer must carry (Allow,
// Accept-Patch, WWW-Authenticate), or, where Glance answers without its
// error page, a body of its own. Its cause, err, gives the message of
// the error page, and the Kind when status is unset. writeError reads the
// outermost httpError of a chain.
type httpError struct {
	status int         // 0: the Kind of err decides
	header http.Header // set on the answer
	ctype  string      // with body: a body of its own, not the error page
	body   string
	err    error
}

func (e *httpError) Error() string {
	if e.err == nil {
		return http.StatusText(e.status)
	}
	return e.err.Error()
}

func (e *httpError) Unwrap() error { return e.err }

// withHeader adds a header, as key and value pairs, to err's answer.
func withHeader(err error, kv ...string) error {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return &httpError{header: h, err: err}
}

// methodNotAllowed is Glance's 405 for a method a path does not have.
func methodNotAllowed(method string, allowed []string) error {
	return &httpError{status: http.StatusMethodNotAllowed, header: http.Header{"Allow": {strings.Join(allowed, ", ")}},
		err: errs.E(errs.Op("api.route"), fmt.Sprintf("The method %s is not allowed for this resource.", method))}
}

// statusOf is the one place where an error becomes an HTTP status: by its
// Kind, unless the HTTP layer or the Authenticator gave it one of its own.
func statusOf(err error) int {
	var he *httpError
	if errors.As(err, &he) && he.status != 0 {
		return he.status
	}
	var resp *auth.Response
	if errors.As(err, &resp) {
		return resp.Status
	}
	if errors.Is(err, framing.ErrHeadTooLarge) {
		return http.StatusRequestHeaderFieldsTooLarge
	}
	switch errs.KindOf(err) {
	case errs.Invalid:
		return http.StatusBadRequest
	case errs.Unauthorized:
		return http.StatusUnauthorized
	case errs.Forbidden:
		return http.StatusForbidden
	case errs.NotFound:
		return http.StatusNotFound
	case errs.Conflict:
		return http.StatusConflict
	case errs.Gone:
		return http.StatusGone
	case errs.TooLarge:
		return http.StatusRequestEntityTooLarge
	case errs.BadFormat:
		return http.StatusUnsupportedMediaType
	case errs.OutOfRange:
		return http.StatusRequestedRangeNotSatisfiable
	case errs.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// writeError is the one function that writes an error response. It
// answers err in Glance's (WebOb's) error shape, in the format the Accept
// header asks for, or with the body err brings of its own, and logs it,
// once, with the request id.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if rec, ok := w.(*statusRecorder); ok && rec.wrote {
		// Too late for an answer: the response has begun.
		s.log.ErrorContext(r.Context(), "request failed after its response began", "request_id", requestID(r),
			"method", r.Method, "path", r.URL.Path, "status", rec.status, "err", err)
		return
	}
	var header http.Header
	var ctype, body string
	if ferr := framing.Err(r.Context()); ferr != nil {
		// Once a request's framing is refused (see package framing),
		// whatever a handler made of the read error it got, the answer is
		// that error, and the connection closes: nothing after it on the
		// connection can be trusted to be a request.
		err = ferr
		header = http.Header{"Connection": {"close"}}
	} else {
		var he *httpError
		if errors.As(err, &he) {
			header, ctype, body = he.header, he.ctype, he.body
		}
		var resp *auth.Response
		if ctype == "" && errors.As(err, &resp) {
			// keystonemiddleware's own answer (delay_auth_decision = false).
			ctype, body = resp.ContentType, resp.Body
		}
	}
	status := statusOf(err)
	if ctype == "" {
		msg := errs.Message(err)
		var se *store.Error
		if status == http.StatusServiceUnavailable && errors.As(err, &se) {
			// Which store is down is the operator's first question.
			if msg == "" {
				msg = "Store " + se.Store + " is unavailable. Please try again at a later time."
			} else if !strings.Contains(msg, se.Store) {
				msg += " (store " + se.Store + " is unavailable)"
			}
		}
		if status == http.StatusInternalServerError || msg == "" {
			msg = defaultExplanation(status)
		}
		ctype, body = errorPage(r, status, msg)
	}
	level := slog.LevelInfo
	if status >= 500 && status != http.StatusNotImplemented { // 501: a method no client should send
		level = slog.LevelError
	}
	s.log.Log(r.Context(), level, "request failed", "request_id", requestID(r), "method", r.Method,
		"path", r.URL.Path, "status", status, "err", err)
	h := w.Header()
	for k, v := range header {
		h[k] = v
	}
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		io.WriteString(w, body)
	}
}

// errorPage is Glance's error body for status with explanation msg, in
// the format the Accept header asks for.
func errorPage(r *http.Request, status int, msg string) (ctype, body string) {
	title := http.StatusText(status)
	if status == http.StatusRequestedRangeNotSatisfiable {
		title = "Request Range Not Satisfiable" // WebOb's wording
	}
	code := fmt.Sprintf("%d %s", status, title)
	switch errorFormat(r.Header.Get("Accept")) {
	case "json":
		b, _ := json.Marshal(map[string]string{"message": msg + "<br /><br />\n\n\n", "code": code, "title": title})
		return "application/json", string(b)
	case "html":
		return "text/html; charset=UTF-8", "<html>\n <head>\n  <title>" + code + "</title>\n </head>\n <body>\n  <h1>" +
			code + "</h1>\n  " + html.EscapeString(msg) + "<br /><br />\n\n\n\n </body>\n</html>"
	}
	return "text/plain; charset=UTF-8", code + "\n\n" + stripTags(msg) + "\n\n   "
}

var tagRE = regexp.MustCompile(`(?s)<.*?>`)

// stripTags is what WebOb does to a plain-text error's explanation: line
// breaks become spaces (oslo.limit's 413 message spans lines) and
// anything between angle brackets goes.
func stripTags(msg string) string {
	msg = strings.ReplaceAll(strings.ReplaceAll(msg, "\n", " "), "\r", "")
	return tagRE.ReplaceAllString(msg, "")
}

// errorFormat picks json, html or plain from Accept as WebOb does: JSON
// only when the client prefers it over HTML; */* and text/html get HTML.
func errorFormat(accept string) string {
	if strings.TrimSpace(accept) == "" {
		return "plain"
	}
	best, bestQ := "plain", 0.0
	for _, part := range strings.Split(accept, ",") {
		fields := strings.Split(part, ";")
		mt := strings.ToLower(strings.TrimSpace(fields[0]))
		q := 1.0
		for _, f := range fields[1:] {
			f = strings.TrimSpace(f)
			if strings.HasPrefix(f, "q=") {
				fmt.Sscanf(f[2:], "%g", &q)
			}
		}
		var kind string
		switch mt {
		case "application/json":
			kind = "json"
		case "text/html", "*/*", "text/*":
			kind = "html"
		case "text/plain":
			kind = "plain"
		default:
			continue
		}
		// On a tie HTML wins, as WebOb's offer order has it.
		if q > bestQ || (q == bestQ && kind == "html") {
			best, bestQ = kind, q
		}
	}
	return best
}

func defaultExplanation(status int) string {
	switch status {
	case http.StatusNotFound:
		return "The resource could not be found."
	case http.StatusUnauthorized:
		return "This server could not verify that you are authorized to access the document you requested. " +
			"Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand " +
			"how to supply the credentials required."
	case http.StatusForbidden:
		return "Access was denied to this resource."
	case http.StatusConflict:
		return "There was a conflict when trying to complete your request."
	case http.StatusBadRequest:
		return "The server could not comply with the request since it is either malformed or otherwise incorrect."
	case http.StatusServiceUnavailable:
		return "The server is currently unavailable. Please try again at a later time."
	case http.StatusRequestEntityTooLarge:
		return "The body of your request was too large for this server."
	}
	return "The server has either erred or is incapable of performing the requested operation."
}
