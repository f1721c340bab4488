package db_test

import (
	"testing"

	"glint/internal/db"
	"glint/internal/db/dbtest"
	"glint/internal/image"
	"glint/internal/image/imagetest"
	"glint/internal/importer"
	"glint/internal/importer/importertest"
)

// The image and task repositories keep the contract of image.Repo and
// importer.TaskRepo on every database: the imagetest and importertest
// suites, which the in-memory fakes pass too.
func TestRepo(t *testing.T) {
	eachDB(t, func(t *testing.T, c dbtest.Conn) {
		d := emptied(t, c)
		imagetest.TestRepo(t, func(t *testing.T) image.Repo { return d(t).Images() })
	})
}

func TestTaskRepo(t *testing.T) {
	eachDB(t, func(t *testing.T, c dbtest.Conn) {
		d := emptied(t, c)
		importertest.TestTaskRepo(t, func(t *testing.T) importer.TaskRepo { return d(t).Tasks() })
	})
}

// emptied opens the database of c once and returns a function that
// empties it for each of the suite's subtests, which run one after
// another: a new database for each would cost 1.5 to 2 s on PostgreSQL
// and MariaDB (creating and migrating it), about a minute per suite.
func emptied(t *testing.T, c dbtest.Conn) func(t *testing.T) *db.DB {
	d := openDB(t, c)
	return func(t *testing.T) *db.DB {
		t.Helper()
		if err := d.EmptyForTest(t.Context()); err != nil {
			t.Fatal(err)
		}
		return d
	}
}
