package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"glint/internal/auth"
	"glint/internal/errs"
	"glint/internal/framing"
)

// statusOf is the one place where an error's Kind becomes an HTTP status.
func statusOf(k errs.Kind) int {
	switch k {
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

// writeError renders err in Glance's (WebOb's) error shape, in the format
// the Accept header asks for, and logs it with the request id.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(errs.KindOf(err))
	if fstatus, ferr := framingError(r); ferr != nil {
		status, err = fstatus, ferr
	}
	msg := errs.Message(err)
	if status == http.StatusInternalServerError || msg == "" {
		msg = defaultExplanation(status)
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	s.log.Log(r.Context(), level, "request failed", "request_id", requestID(r), "method", r.Method,
		"path", r.URL.Path, "status", status, "err", err)
	writeErrorBody(w, r, status, msg)
}

// framingError is the status and the framing error of r's connection (see
// package framing), or nil. Once a request's framing is refused, whatever
// a handler made of the read error it got, the answer is that error, and
// the connection closes: nothing after it on the connection can be
// trusted to be a request.
func framingError(r *http.Request) (int, error) {
	err := framing.Err(r.Context())
	if err == nil {
		return 0, nil
	}
	if errors.Is(err, framing.ErrHeadTooLarge) {
		return http.StatusRequestHeaderFieldsTooLarge, err
	}
	return statusOf(errs.KindOf(err)), err
}

// writeErrorBody writes a Glance-shaped error body with explanation msg.
func writeErrorBody(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if fstatus, ferr := framingError(r); ferr != nil {
		status, msg = fstatus, errs.Message(ferr)
		w.Header().Set("Connection", "close")
	}
	title := http.StatusText(status)
	if status == http.StatusRequestedRangeNotSatisfiable {
		title = "Request Range Not Satisfiable" // WebOb's wording
	}
	code := fmt.Sprintf("%d %s", status, title)
	var body, ctype string
	switch errorFormat(r.Header.Get("Accept")) {
	case "json":
		b, _ := json.Marshal(map[string]string{"message": msg + "<br /><br />\n\n\n", "code": code, "title": title})
		body, ctype = string(b), "application/json"
	case "html":
		body = "<html>\n <head>\n  <title>" + code + "</title>\n </head>\n <body>\n  <h1>" + code + "</h1>\n  " +
			html.EscapeString(msg) + "<br /><br />\n\n\n\n </body>\n</html>"
		ctype = "text/html; charset=UTF-8"
	default:
		body, ctype = code+"\n\n"+msg+"\n\n   ", "text/plain; charset=UTF-8"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write([]byte(body))
	}
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

// writeAuthResponse writes an Authenticator's own answer.
func writeAuthResponse(w http.ResponseWriter, r *http.Request, resp *auth.Response) {
	w.Header().Set("Content-Type", resp.ContentType)
	w.Header().Set("Content-Length", fmt.Sprint(len(resp.Body)))
	w.WriteHeader(resp.Status)
	if r.Method != http.MethodHead {
		io.WriteString(w, resp.Body)
	}
}
