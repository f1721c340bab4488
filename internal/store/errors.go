package store

import (
	"net/url"
	"regexp"
	"slices"
	"strings"

	"glint/internal/errs"
)

// Error is the cause a Store puts under every failure it returns: which
// store, which location (credentials hidden), and what the driver or the
// source said. The *errs.Error around it carries the Op and the Kind.
type Error struct {
	Store    string
	Location string // redacted; "" when the operation has none
	Err      error  // nil when the Store refused before asking the driver

	secrets []string // of the location, hidden in Error()
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("store ")
	b.WriteString(e.Store)
	if e.Location != "" {
		b.WriteString(" at ")
		b.WriteString(e.Location)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(redactText(e.Err.Error(), e.secrets))
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// kindWords are the user-facing words of a driver failure whose error has
// none of its own; the other kinds keep the API's default explanation.
var kindWords = map[errs.Kind]string{
	errs.NotFound:     "Image data not found in the store",
	errs.Conflict:     "Image data already exists in the store",
	errs.TooLarge:     "Image storage media is full",
	errs.Unauthorized: "The store rejected its credentials",
	errs.Forbidden:    "The store denied access",
}

// wrap is the one place a driver's error becomes a Glint error: its Kind
// from the driver's classifier, and the store's name and the location
// under it.
func (s *Store) wrap(op errs.Op, loc string, err error) error {
	kind := s.Driver.ErrorKind(err)
	secrets := secretsOf(loc)
	e := &errs.Error{Op: op, Kind: kind, Err: &Error{Store: s.Name, Location: Redact(loc), Err: err, secrets: secrets}}
	if msg := errs.Message(err); msg == "" {
		e.Msg = kindWords[kind]
	} else if r := redactText(msg, secrets); r != msg {
		e.Msg = r
	}
	return e
}

// stamp puts the store's name on an error that is not the driver's (the
// source's), keeping its Kind and message.
func (s *Store) stamp(op errs.Op, err error) error {
	return &errs.Error{Op: op, Kind: errs.KindOf(err), Err: &Error{Store: s.Name, Err: err}}
}

// refuse is a failure the Store decides before asking the driver.
func (s *Store) refuse(op errs.Op, kind errs.Kind, msg string) error {
	return s.fail(op, kind, msg, nil)
}

// interrupted is the failure of a read or a delete whose context ended.
func (s *Store) interrupted(op errs.Op, cause error) error {
	return s.fail(op, errs.Unavailable, "The store operation was interrupted", cause)
}

func (s *Store) fail(op errs.Op, kind errs.Kind, msg string, cause error) error {
	return &errs.Error{Op: op, Kind: kind, Msg: msg, Err: &Error{Store: s.Name, Err: cause}}
}

// Redact hides the credentials that some location URIs carry (Glance's S3
// locations hold the access and secret keys), for logs and messages.
func Redact(loc string) string {
	scheme, rest, ok := strings.Cut(loc, "://")
	if !ok {
		return loc
	}
	// Split at the last '@': secret keys may contain '/'.
	i := strings.LastIndexByte(rest, '@')
	if i < 0 || !strings.Contains(rest[:i], ":") {
		return loc
	}
	return scheme + "://***@" + rest[i+1:]
}

// secretsOf lists the forms in which loc's credentials could appear in a
// message: the user:secret part and the secret, as written and unescaped.
// Strings shorter than 4 bytes are left out: hiding them would garble
// the message more than it protects.
func secretsOf(loc string) []string {
	_, rest, ok := strings.Cut(loc, "://")
	if !ok {
		return nil
	}
	i := strings.LastIndexByte(rest, '@')
	if i < 0 || !strings.Contains(rest[:i], ":") {
		return nil
	}
	userinfo := rest[:i]
	_, secret, _ := strings.Cut(userinfo, ":")
	var out []string
	for _, s := range []string{userinfo, secret} {
		for _, v := range []string{s, unescape(s, url.PathUnescape), unescape(s, url.QueryUnescape), url.QueryEscape(s)} {
			if len(v) >= 4 && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	// Longest first, so that a secret inside the user:secret part does not
	// leave the user part behind.
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

func unescape(s string, f func(string) (string, error)) string {
	if u, err := f(s); err == nil {
		return u
	}
	return s
}

// userinfoRE finds the credentials of any URL in a text: scheme://user:secret@.
var userinfoRE = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^\s/@]*:[^\s@]*@`)

// redactText hides secrets, and the credentials of any URL, in a message.
func redactText(s string, secrets []string) string {
	for _, sec := range secrets {
		s = strings.ReplaceAll(s, sec, "***")
	}
	return userinfoRE.ReplaceAllString(s, "${1}***@")
}
