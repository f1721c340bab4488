package image

import "testing"

func TestCanTransition(t *testing.T) {
	allowed := map[[2]Status]bool{}
	for from, tos := range transitions {
		for _, to := range tos {
			allowed[[2]Status{from, to}] = true
		}
	}
	// Glance's status machine, spelled out once more as the test's oracle.
	want := []string{
		"queued>saving", "queued>uploading", "queued>importing", "queued>active", "queued>deleted",
		"saving>active", "saving>killed", "saving>deleted", "saving>queued",
		"uploading>importing", "uploading>queued", "uploading>deleted",
		"importing>active", "importing>deleted", "importing>queued",
		"active>pending_delete", "active>deleted", "active>deactivated",
		"killed>deleted", "pending_delete>deleted", "pending_delete>active",
		"deactivated>active", "deactivated>deleted",
	}
	wantSet := map[string]bool{}
	for _, w := range want {
		wantSet[w] = true
	}
	for _, from := range Statuses {
		for _, to := range Statuses {
			key := string(from) + ">" + string(to)
			if got := CanTransition(from, to); got != wantSet[key] {
				t.Errorf("CanTransition(%s, %s) = %v", from, to, got)
			}
		}
	}
}

func TestAttributeClasses(t *testing.T) {
	cases := []struct {
		name                     string
		readOnly, reserved, core bool
	}{
		{"status", true, false, true},
		{"size", true, false, true},
		{"self", true, false, true},
		{"locations", false, true, true},
		{"deleted", false, true, false},
		{"os_glance_import_task", false, true, false},
		{"name", false, false, true},
		{"tags", false, false, true},
		{"os_distro", false, false, false},
		{"os_glanc", false, false, false},
	}
	for _, c := range cases {
		if IsReadOnly(c.name) != c.readOnly || IsReserved(c.name) != c.reserved || IsCore(c.name) != c.core {
			t.Errorf("%s: readOnly %v reserved %v core %v", c.name, IsReadOnly(c.name), IsReserved(c.name), IsCore(c.name))
		}
	}
}
