// Package errs is Glint's error vocabulary: every error that crosses a
// package boundary carries an Op (where it happened) and a Kind (what sort of
// failure it is). Only the API layer turns Kinds into HTTP statuses.
package errs

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies an error by what went wrong, in the domain's words.
// Only the API layer (internal/api, statusOf) decides which HTTP status
// each Kind becomes; the comments note it for the reader.
type Kind uint8

const (
	Other        Kind = iota // unclassified: 500
	Invalid                  // bad input: 400
	Unauthorized             // no credentials, or bad ones: 401
	Forbidden                // known caller, not allowed: 403
	NotFound                 // no such thing, or not visible to the caller: 404
	Conflict                 // the thing's state or a duplicate forbids it: 409
	Gone                     // the thing was deleted while in use: 410
	TooLarge                 // over a size cap, a quota or the space left: 413
	BadFormat                // a media type or data format not accepted: 415
	OutOfRange               // a byte range outside the data: 416
	Unavailable              // a backend is down or full: 503
	Internal                 // our bug, or a broken deployment: 500
)

func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid"
	case Unauthorized:
		return "unauthorized"
	case Forbidden:
		return "forbidden"
	case NotFound:
		return "not found"
	case Conflict:
		return "conflict"
	case Gone:
		return "gone"
	case TooLarge:
		return "too large"
	case BadFormat:
		return "bad format"
	case OutOfRange:
		return "out of range"
	case Unavailable:
		return "unavailable"
	case Internal:
		return "internal error"
	}
	return "other"
}

// Op names the operation that failed, e.g. "image.Upload".
type Op string

// Error is the error type used throughout Glint.
type Error struct {
	Op   Op
	Kind Kind
	// Msg is the user-facing explanation, written as Glance words it where
	// Glint reproduces a Glance error.
	Msg string
	Err error // underlying cause, may be nil
}

// E builds an *Error from its arguments, in any order: an Op, a Kind, a
// string (the message), an error (the cause). A cause that is itself an
// *Error lends its Kind and message when none are given.
func E(args ...any) error {
	e := &Error{}
	for _, a := range args {
		switch a := a.(type) {
		case Op:
			e.Op = a
		case Kind:
			e.Kind = a
		case string:
			e.Msg = a
		case error:
			e.Err = a
		default:
			panic(fmt.Sprintf("errs.E: bad argument %T", a))
		}
	}
	var inner *Error
	if errors.As(e.Err, &inner) {
		if e.Kind == Other {
			e.Kind = inner.Kind
		}
	}
	return e
}

// Errorf is E with a formatted message.
func Errorf(op Op, k Kind, format string, args ...any) error {
	return &Error{Op: op, Kind: k, Msg: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(string(e.Op))
		b.WriteString(": ")
	}
	if e.Msg != "" {
		b.WriteString(e.Msg)
	} else if e.Kind != Other {
		b.WriteString(e.Kind.String())
	}
	if e.Err != nil {
		if e.Msg != "" || e.Kind != Other {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf reports the Kind of the outermost classified *Error in err's chain.
func KindOf(err error) Kind {
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return Other
		}
		if e.Kind != Other {
			return e.Kind
		}
		err = e.Err
	}
	return Other
}

// Is reports whether err is classified as kind k.
func Is(k Kind, err error) bool { return KindOf(err) == k }

// Message returns the outermost user-facing message in err's chain, or ""
// when there is none (the cause then stays in the log, not the response).
func Message(err error) string {
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			break
		}
		if e.Msg != "" {
			return e.Msg
		}
		err = e.Err
	}
	return ""
}
