package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"glint/internal/errs"
)

// This file is where the database's errors are classified, once for every
// repository method (dbErr): what the API answers, and what the log says.
//
//   - A busy or locked database is waited for (SQLite's busy_timeout,
//     which the driver ends early once the request's context is done) and
//     the statement or transaction is run again while the request's time
//     budget lasts (retryBusy); only then is it Unavailable (503).
//   - The disk, the file system, the server or the network failing, or a
//     database that cannot be opened or written, is Unavailable.
//   - Anything that only a bug can cause, in Glint or in what shares the
//     database with it (SQL that does not parse, a constraint Glint should
//     have checked, a scan into the wrong type, a damaged database, the
//     wal-index cut short under its mapping) is Internal (500), never
//     "unavailable": trying again later does not help.
//
// The log names SQLite's extended result code (SQLITE_IOERR_IN_PAGE, not
// "disk I/O error (8714)") and what the statement was for ("insert into
// images", "commit a group of 12 transactions").

// busyBudget is how long a request waits, in all, for a busy or locked
// SQLite database when its context sets no deadline: busy_timeout's.
const busyBudget = 30 * time.Second

// stmtError is an error of a statement, with what the statement was for.
type stmtError struct {
	purpose string // "insert into images"; "" when unknown
	err     error
}

func (e *stmtError) Error() string {
	var b strings.Builder
	if e.purpose != "" {
		b.WriteString(e.purpose)
		b.WriteString(": ")
	}
	var se *sqlite.Error
	if errors.As(e.err, &se) {
		b.WriteString(sqliteCodeName(se.Code()))
		b.WriteString(": ")
	}
	b.WriteString(e.err.Error())
	if hint := sqliteHint(e.err); hint != "" {
		b.WriteString(" (")
		b.WriteString(hint)
		b.WriteString(")")
	}
	return b.String()
}

func (e *stmtError) Unwrap() error { return e.err }

// stmtErr wraps err, which running q returned, with q's purpose.
// sql.ErrNoRows and errors already wrapped are returned as they are.
func stmtErr(q string, err error) error {
	return purposeErr(queryPurpose(q), err)
}

// purposeErr wraps err with purpose (see stmtErr).
func purposeErr(purpose string, err error) error {
	var se *stmtError
	if err == nil || errors.Is(err, sql.ErrNoRows) || errors.As(err, &se) {
		return err
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return err // Glint's own, already classified
	}
	return &stmtError{purpose: purpose, err: err}
}

// queryPurpose names what q does for the log: its verb and its table
// ("insert into images", "select from image_members", "pragma
// data_version"). Only called on failure.
func queryPurpose(q string) string {
	f := strings.Fields(q)
	if len(f) == 0 {
		return ""
	}
	verb := strings.ToLower(f[0])
	switch verb {
	case "insert", "replace":
		for i := 1; i+1 < len(f); i++ {
			if strings.EqualFold(f[i], "into") {
				return verb + " into " + tableName(f[i+1])
			}
		}
	case "update":
		if len(f) > 1 {
			return "update " + tableName(f[1])
		}
	case "delete":
		if len(f) > 2 {
			return "delete from " + tableName(f[2])
		}
	case "select", "with":
		// The first FROM outside parentheses: subqueries in the select
		// list have FROMs of their own.
		depth := 0
		for i, w := range f {
			depth += strings.Count(w, "(") - strings.Count(w, ")")
			if depth == 0 && strings.EqualFold(w, "from") && i+1 < len(f) {
				return "select from " + tableName(f[i+1])
			}
		}
		return "select"
	case "pragma":
		if len(f) > 1 {
			return "pragma " + strings.ToLower(f[1])
		}
	}
	return verb
}

// tableName trims what may follow a table name in a statement.
func tableName(s string) string {
	if i := strings.IndexAny(s, "(,;"); i > 0 {
		s = s[:i]
	}
	return strings.Trim(s, `"`+"`")
}

// dbErr is the error a repository method op returns for err, which a
// statement or transaction returned. An error Glint has classified
// already (errs.Error with a Kind: a conflict, a missing image) is
// returned as it is.
func dbErr(op errs.Op, err error) error {
	if err == nil {
		return nil
	}
	if errs.KindOf(err) != errs.Other {
		return err
	}
	var se *sqlite.Error
	var st *stmtError
	if errors.As(err, &se) && !errors.As(err, &st) {
		err = &stmtError{err: err} // named, if not for a purpose
	}
	return errs.E(op, dbKind(err), err)
}

// dbKind classifies an error from the database (see the top of this file).
func dbKind(err error) errs.Kind {
	if k := errs.KindOf(err); k != errs.Other {
		return k
	}
	var (
		se *sqlite.Error
		pe *pgconn.PgError
		me *mysql.MySQLError
		je *json.SyntaxError
		te *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &se):
		return sqliteKind(se.Code())
	case errors.As(err, &pe):
		return postgresKind(pe.Code)
	case errors.As(err, &me):
		return mysqlKind(me.Number)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone):
		return errs.Unavailable
	case errors.As(err, &je), errors.As(err, &te), isScanError(err):
		return errs.Internal
	}
	// A connection refused or reset, a server gone: the network's.
	return errs.Unavailable
}

// isScanError reports whether err is database/sql's, or dbTime's, refusal
// to convert a column: the query and the Go types disagree.
func isScanError(err error) bool {
	s := err.Error()
	for _, p := range []string{"sql: Scan error", "sql: expected ", "bad timestamp ", "cannot scan "} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// sqliteKind classifies SQLite's extended result codes.
func sqliteKind(code int) errs.Kind {
	switch code {
	case sqlite3.SQLITE_IOERR_IN_PAGE:
		// The wal-index (or the database, if memory-mapped) shrank
		// under its mapping: SQLite never does that while a process
		// holds its locks; something broke the locking protocol (issue
		// 29), or removed the file under the server.
		return errs.Internal
	}
	switch code & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_INTERRUPT,
		sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_CANTOPEN,
		sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_NOLFS:
		return errs.Unavailable
	}
	// SQLITE_ERROR (SQL that does not parse, a missing table or column),
	// CONSTRAINT, MISMATCH, MISUSE, RANGE, TOOBIG, SCHEMA, CORRUPT,
	// NOTADB, INTERNAL, ABORT, ...
	return errs.Internal
}

// postgresKind classifies SQLSTATEs by class.
func postgresKind(code string) errs.Kind {
	if len(code) < 2 {
		return errs.Unavailable
	}
	switch code[:2] {
	case "22", "23", "42", "XX": // data exception, integrity, syntax or access, internal
		if code == "42501" { // insufficient_privilege: the deployment's
			return errs.Unavailable
		}
		return errs.Internal
	}
	// 08 connection, 40 rollback, 53 resources, 55 lock, 57 operator, 58 system, ...
	return errs.Unavailable
}

// mysqlKind classifies MySQL and MariaDB error numbers.
func mysqlKind(n uint16) errs.Kind {
	switch n {
	case 1048, // column cannot be null
		1054,       // unknown column
		1064,       // syntax
		1146,       // no such table
		1264,       // out of range
		1292,       // incorrect value (dates)
		1366,       // incorrect value
		1406,       // data too long
		1451, 1452: // foreign key
		return errs.Internal
	}
	return errs.Unavailable
}

// isBusy reports whether err is SQLite's busy or locked database.
func isBusy(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	c := se.Code() & 0xff
	return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
}

// retryBusy runs fn, and runs it again while it fails with a busy or
// locked SQLite database, ctx is not done, and the request's budget (its
// deadline, or busyBudget from start) is not spent. fn must be safe to
// run again: a statement outside a transaction, a read transaction's
// first statement, or a whole write transaction.
func retryBusy(ctx context.Context, start time.Time, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !isBusy(err) || ctx.Err() != nil {
			return err
		}
		wait := min(time.Duration(attempt*attempt)*5*time.Millisecond, 250*time.Millisecond)
		end := start.Add(busyBudget)
		if dl, ok := ctx.Deadline(); ok {
			end = dl
		}
		if time.Now().Add(wait).After(end) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// sqliteHint says more about codes whose message says little.
func sqliteHint(err error) string {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return ""
	}
	switch se.Code() {
	case sqlite3.SQLITE_IOERR_IN_PAGE:
		return "a memory fault reading the wal-index: the -shm file shrank under its mapping, " +
			"which SQLite does only when it finds no other process holding its locks"
	case sqlite3.SQLITE_BUSY_TIMEOUT, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return "another connection or process held the lock for longer than the request could wait"
	}
	return ""
}

// sqliteCodeName names an SQLite result code, extended or primary, as
// sqlite3.h does: SQLITE_IOERR_IN_PAGE for 8714. An extended code this
// table lacks is named by its primary code.
func sqliteCodeName(code int) string {
	if n, ok := sqliteCodeNames[code]; ok {
		return n
	}
	if n, ok := sqliteCodeNames[code&0xff]; ok {
		return fmt.Sprintf("%s (extended code %d)", n, code)
	}
	return fmt.Sprintf("SQLite result code %d", code)
}

var sqliteCodeNames = map[int]string{
	sqlite3.SQLITE_ERROR:                   "SQLITE_ERROR",
	sqlite3.SQLITE_INTERNAL:                "SQLITE_INTERNAL",
	sqlite3.SQLITE_PERM:                    "SQLITE_PERM",
	sqlite3.SQLITE_ABORT:                   "SQLITE_ABORT",
	sqlite3.SQLITE_BUSY:                    "SQLITE_BUSY",
	sqlite3.SQLITE_LOCKED:                  "SQLITE_LOCKED",
	sqlite3.SQLITE_NOMEM:                   "SQLITE_NOMEM",
	sqlite3.SQLITE_READONLY:                "SQLITE_READONLY",
	sqlite3.SQLITE_INTERRUPT:               "SQLITE_INTERRUPT",
	sqlite3.SQLITE_IOERR:                   "SQLITE_IOERR",
	sqlite3.SQLITE_CORRUPT:                 "SQLITE_CORRUPT",
	sqlite3.SQLITE_NOTFOUND:                "SQLITE_NOTFOUND",
	sqlite3.SQLITE_FULL:                    "SQLITE_FULL",
	sqlite3.SQLITE_CANTOPEN:                "SQLITE_CANTOPEN",
	sqlite3.SQLITE_PROTOCOL:                "SQLITE_PROTOCOL",
	sqlite3.SQLITE_EMPTY:                   "SQLITE_EMPTY",
	sqlite3.SQLITE_SCHEMA:                  "SQLITE_SCHEMA",
	sqlite3.SQLITE_TOOBIG:                  "SQLITE_TOOBIG",
	sqlite3.SQLITE_CONSTRAINT:              "SQLITE_CONSTRAINT",
	sqlite3.SQLITE_MISMATCH:                "SQLITE_MISMATCH",
	sqlite3.SQLITE_MISUSE:                  "SQLITE_MISUSE",
	sqlite3.SQLITE_NOLFS:                   "SQLITE_NOLFS",
	sqlite3.SQLITE_AUTH:                    "SQLITE_AUTH",
	sqlite3.SQLITE_FORMAT:                  "SQLITE_FORMAT",
	sqlite3.SQLITE_RANGE:                   "SQLITE_RANGE",
	sqlite3.SQLITE_NOTADB:                  "SQLITE_NOTADB",
	sqlite3.SQLITE_NOTICE:                  "SQLITE_NOTICE",
	sqlite3.SQLITE_WARNING:                 "SQLITE_WARNING",
	sqlite3.SQLITE_ERROR_MISSING_COLLSEQ:   "SQLITE_ERROR_MISSING_COLLSEQ",
	sqlite3.SQLITE_ERROR_RETRY:             "SQLITE_ERROR_RETRY",
	sqlite3.SQLITE_ERROR_SNAPSHOT:          "SQLITE_ERROR_SNAPSHOT",
	sqlite3.SQLITE_ERROR_RESERVESIZE:       "SQLITE_ERROR_RESERVESIZE",
	sqlite3.SQLITE_ERROR_KEY:               "SQLITE_ERROR_KEY",
	sqlite3.SQLITE_ERROR_UNABLE:            "SQLITE_ERROR_UNABLE",
	sqlite3.SQLITE_IOERR_READ:              "SQLITE_IOERR_READ",
	sqlite3.SQLITE_IOERR_SHORT_READ:        "SQLITE_IOERR_SHORT_READ",
	sqlite3.SQLITE_IOERR_WRITE:             "SQLITE_IOERR_WRITE",
	sqlite3.SQLITE_IOERR_FSYNC:             "SQLITE_IOERR_FSYNC",
	sqlite3.SQLITE_IOERR_DIR_FSYNC:         "SQLITE_IOERR_DIR_FSYNC",
	sqlite3.SQLITE_IOERR_TRUNCATE:          "SQLITE_IOERR_TRUNCATE",
	sqlite3.SQLITE_IOERR_FSTAT:             "SQLITE_IOERR_FSTAT",
	sqlite3.SQLITE_IOERR_UNLOCK:            "SQLITE_IOERR_UNLOCK",
	sqlite3.SQLITE_IOERR_RDLOCK:            "SQLITE_IOERR_RDLOCK",
	sqlite3.SQLITE_IOERR_DELETE:            "SQLITE_IOERR_DELETE",
	sqlite3.SQLITE_IOERR_BLOCKED:           "SQLITE_IOERR_BLOCKED",
	sqlite3.SQLITE_IOERR_NOMEM:             "SQLITE_IOERR_NOMEM",
	sqlite3.SQLITE_IOERR_ACCESS:            "SQLITE_IOERR_ACCESS",
	sqlite3.SQLITE_IOERR_CHECKRESERVEDLOCK: "SQLITE_IOERR_CHECKRESERVEDLOCK",
	sqlite3.SQLITE_IOERR_LOCK:              "SQLITE_IOERR_LOCK",
	sqlite3.SQLITE_IOERR_CLOSE:             "SQLITE_IOERR_CLOSE",
	sqlite3.SQLITE_IOERR_DIR_CLOSE:         "SQLITE_IOERR_DIR_CLOSE",
	sqlite3.SQLITE_IOERR_SHMOPEN:           "SQLITE_IOERR_SHMOPEN",
	sqlite3.SQLITE_IOERR_SHMSIZE:           "SQLITE_IOERR_SHMSIZE",
	sqlite3.SQLITE_IOERR_SHMLOCK:           "SQLITE_IOERR_SHMLOCK",
	sqlite3.SQLITE_IOERR_SHMMAP:            "SQLITE_IOERR_SHMMAP",
	sqlite3.SQLITE_IOERR_SEEK:              "SQLITE_IOERR_SEEK",
	sqlite3.SQLITE_IOERR_DELETE_NOENT:      "SQLITE_IOERR_DELETE_NOENT",
	sqlite3.SQLITE_IOERR_MMAP:              "SQLITE_IOERR_MMAP",
	sqlite3.SQLITE_IOERR_GETTEMPPATH:       "SQLITE_IOERR_GETTEMPPATH",
	sqlite3.SQLITE_IOERR_CONVPATH:          "SQLITE_IOERR_CONVPATH",
	sqlite3.SQLITE_IOERR_VNODE:             "SQLITE_IOERR_VNODE",
	sqlite3.SQLITE_IOERR_AUTH:              "SQLITE_IOERR_AUTH",
	sqlite3.SQLITE_IOERR_BEGIN_ATOMIC:      "SQLITE_IOERR_BEGIN_ATOMIC",
	sqlite3.SQLITE_IOERR_COMMIT_ATOMIC:     "SQLITE_IOERR_COMMIT_ATOMIC",
	sqlite3.SQLITE_IOERR_ROLLBACK_ATOMIC:   "SQLITE_IOERR_ROLLBACK_ATOMIC",
	sqlite3.SQLITE_IOERR_DATA:              "SQLITE_IOERR_DATA",
	sqlite3.SQLITE_IOERR_CORRUPTFS:         "SQLITE_IOERR_CORRUPTFS",
	sqlite3.SQLITE_IOERR_IN_PAGE:           "SQLITE_IOERR_IN_PAGE",
	sqlite3.SQLITE_IOERR_BADKEY:            "SQLITE_IOERR_BADKEY",
	sqlite3.SQLITE_IOERR_CODEC:             "SQLITE_IOERR_CODEC",
	sqlite3.SQLITE_LOCKED_SHAREDCACHE:      "SQLITE_LOCKED_SHAREDCACHE",
	sqlite3.SQLITE_LOCKED_VTAB:             "SQLITE_LOCKED_VTAB",
	sqlite3.SQLITE_BUSY_RECOVERY:           "SQLITE_BUSY_RECOVERY",
	sqlite3.SQLITE_BUSY_SNAPSHOT:           "SQLITE_BUSY_SNAPSHOT",
	sqlite3.SQLITE_BUSY_TIMEOUT:            "SQLITE_BUSY_TIMEOUT",
	sqlite3.SQLITE_CANTOPEN_NOTEMPDIR:      "SQLITE_CANTOPEN_NOTEMPDIR",
	sqlite3.SQLITE_CANTOPEN_ISDIR:          "SQLITE_CANTOPEN_ISDIR",
	sqlite3.SQLITE_CANTOPEN_FULLPATH:       "SQLITE_CANTOPEN_FULLPATH",
	sqlite3.SQLITE_CANTOPEN_CONVPATH:       "SQLITE_CANTOPEN_CONVPATH",
	sqlite3.SQLITE_CANTOPEN_DIRTYWAL:       "SQLITE_CANTOPEN_DIRTYWAL",
	sqlite3.SQLITE_CANTOPEN_SYMLINK:        "SQLITE_CANTOPEN_SYMLINK",
	sqlite3.SQLITE_CORRUPT_VTAB:            "SQLITE_CORRUPT_VTAB",
	sqlite3.SQLITE_CORRUPT_SEQUENCE:        "SQLITE_CORRUPT_SEQUENCE",
	sqlite3.SQLITE_CORRUPT_INDEX:           "SQLITE_CORRUPT_INDEX",
	sqlite3.SQLITE_READONLY_RECOVERY:       "SQLITE_READONLY_RECOVERY",
	sqlite3.SQLITE_READONLY_CANTLOCK:       "SQLITE_READONLY_CANTLOCK",
	sqlite3.SQLITE_READONLY_ROLLBACK:       "SQLITE_READONLY_ROLLBACK",
	sqlite3.SQLITE_READONLY_DBMOVED:        "SQLITE_READONLY_DBMOVED",
	sqlite3.SQLITE_READONLY_CANTINIT:       "SQLITE_READONLY_CANTINIT",
	sqlite3.SQLITE_READONLY_DIRECTORY:      "SQLITE_READONLY_DIRECTORY",
	sqlite3.SQLITE_ABORT_ROLLBACK:          "SQLITE_ABORT_ROLLBACK",
	sqlite3.SQLITE_CONSTRAINT_CHECK:        "SQLITE_CONSTRAINT_CHECK",
	sqlite3.SQLITE_CONSTRAINT_COMMITHOOK:   "SQLITE_CONSTRAINT_COMMITHOOK",
	sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:   "SQLITE_CONSTRAINT_FOREIGNKEY",
	sqlite3.SQLITE_CONSTRAINT_FUNCTION:     "SQLITE_CONSTRAINT_FUNCTION",
	sqlite3.SQLITE_CONSTRAINT_NOTNULL:      "SQLITE_CONSTRAINT_NOTNULL",
	sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:   "SQLITE_CONSTRAINT_PRIMARYKEY",
	sqlite3.SQLITE_CONSTRAINT_TRIGGER:      "SQLITE_CONSTRAINT_TRIGGER",
	sqlite3.SQLITE_CONSTRAINT_UNIQUE:       "SQLITE_CONSTRAINT_UNIQUE",
	sqlite3.SQLITE_CONSTRAINT_VTAB:         "SQLITE_CONSTRAINT_VTAB",
	sqlite3.SQLITE_CONSTRAINT_ROWID:        "SQLITE_CONSTRAINT_ROWID",
	sqlite3.SQLITE_CONSTRAINT_PINNED:       "SQLITE_CONSTRAINT_PINNED",
	sqlite3.SQLITE_CONSTRAINT_DATATYPE:     "SQLITE_CONSTRAINT_DATATYPE",
	sqlite3.SQLITE_AUTH_USER:               "SQLITE_AUTH_USER",
	sqlite3.SQLITE_NOTICE_RECOVER_WAL:      "SQLITE_NOTICE_RECOVER_WAL",
	sqlite3.SQLITE_NOTICE_RECOVER_ROLLBACK: "SQLITE_NOTICE_RECOVER_ROLLBACK",
	sqlite3.SQLITE_NOTICE_RBU:              "SQLITE_NOTICE_RBU",
	sqlite3.SQLITE_WARNING_AUTOINDEX:       "SQLITE_WARNING_AUTOINDEX",
}
