package imagetest_test

import (
	"testing"

	"glint/internal/image"
	"glint/internal/image/imagetest"
)

// The fakes keep the contract the SQL repositories keep: domain tests
// run on them stand for runs on a database.
func TestMemRepo(t *testing.T) {
	imagetest.TestRepo(t, func(*testing.T) image.Repo { return imagetest.NewMemRepo() })
}
