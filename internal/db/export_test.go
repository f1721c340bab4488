package db_test

import (
	"database/sql"

	_ "modernc.org/sqlite"
)

// sqlOpen opens a plain connection, to write rows the way another program would.
func sqlOpen(path string) (*sql.DB, error) {
	return sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
}
