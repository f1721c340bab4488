package importertest_test

import (
	"testing"

	"glint/internal/importer"
	"glint/internal/importer/importertest"
)

// The fake keeps the contract the SQL task repository keeps.
func TestMemTasks(t *testing.T) {
	importertest.TestTaskRepo(t, func(*testing.T) importer.TaskRepo { return importertest.NewMemTasks() })
}
