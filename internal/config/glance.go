package config

import (
	_ "embed"
	"strings"
)

// An option Glint does not honour is one of two things: an option Glance
// 25.1 knows (Glint accepts it and says it has no effect here: "unused"),
// or a name nobody knows, most likely a typo ("unknown"). The two are
// reported apart, so that a glance-api.conf does not bury a typo under a
// hundred warnings about Glance's own options.

// glanceOptionsFile lists, one "section.option" a line, the options of the
// configuration files Debian's Glance 25.1 ships (glance-api.conf,
// glance-image-import.conf, and the scrubber's, cache's and
// glance-manage's: every option line, commented or not, and every
// deprecated name they mention). TestGlanceKnownOptions derives the same list from the
// shipped files and fails when this one falls behind; run it with
// -update to rewrite this file.
//
//go:embed glance-options.txt
var glanceOptionsFile string

// glanceKnown is glanceOptionsFile as a set.
var glanceKnown = func() map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(glanceOptionsFile, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			m[line] = true
		}
	}
	return m
}()

// reservedStores are the stores glance_store registers for Glance when
// enabled_backends is set (not in the sample files: they are made at run
// time); each has the filesystem store's options.
var reservedStores = []string{"os_glance_staging_store", "os_glance_tasks_store"}

var reservedStoreOptions = []string{"filesystem_store_datadir", "filesystem_store_datadirs", "filesystem_store_metadata_file",
	"filesystem_store_file_perm", "filesystem_store_chunk_size", "filesystem_thin_provisioning"}

// accepted are options Glance knows that Glint takes on purpose without
// using them, and why; docs/configuration.md lists them (the test
// TestDocsListAcceptedOptions keeps it so). Other options Glance knows
// and Glint does not use are reported without a reason.
var accepted = []struct{ id, reason string }{
	{"DEFAULT.enable_v2_api", "removed from Glance in 21.0.0 (Victoria); Glint, like Glance 25.1, always serves the v2 API and nothing else."},
	{"keystone_authtoken.region_name", "keystonemiddleware's region for finding the identity endpoint in the service catalog; Glint talks to auth_url directly."},
	{"oslo_concurrency.lock_path", "directory of Glance's inter-process lock files; Glint takes its locks in the database and in memory and writes no lock files."},
	{"taskflow_executor.max_workers", "threads of Glance's taskflow engine within one import; Glint runs an import's steps in order, and [wsgi] task_pool_threads bounds the imports a node runs at once."},
	{"taskflow_executor.engine_mode", "serial or parallel taskflow engine; Glint runs an import's steps in order (serial)."},
	{"task.work_dir", "where Glance's legacy import task (POST /v2/tasks) copies the data first; Glint's streams it into the store and writes no work files."},
	{"os_glance_tasks_store.filesystem_store_datadir", "the same for Glance with enabled_backends; Glint writes no task files."},
	{"oslo_limit.collect_timing", "keystoneauth's per-request timing statistics; Glint logs what fails instead."},
	{"oslo_limit.split_loggers", "keystoneauth's split request logging; Glint logs what fails instead."},
	{"oslo_limit.service_type", "finds Keystone in the service catalog; Glint reads limits from auth_url."},
	{"oslo_limit.service_name", "finds Keystone in the service catalog; Glint reads limits from auth_url."},
	{"oslo_limit.valid_interfaces", "finds Keystone in the service catalog; Glint reads limits from auth_url."},
	{"oslo_limit.region_name", "finds Keystone in the service catalog; Glint reads limits from auth_url (the limits' region is endpoint_region_name's, or endpoint_id's)."},
	{"oslo_limit.endpoint_override", "overrides the catalog's Keystone URL; Glint reads limits from auth_url."},
	{"oslo_limit.version", "Keystone API version; Glint speaks identity v3, the only one with limits."},
	{"oslo_limit.min_version", "Keystone API version; Glint speaks identity v3, the only one with limits."},
	{"oslo_limit.max_version", "Keystone API version; Glint speaks identity v3, the only one with limits."},
	{"oslo_limit.connect_retry_delay", "delay between connection retries; Glint waits 0.2 s more at each retry."},
	{"oslo_limit.status_code_retries", "retries on 5xx answers; Glint keeps the last limits read and asks again a second later."},
	{"oslo_limit.status_code_retry_delay", "retries on 5xx answers; Glint keeps the last limits read and asks again a second later."},
	{"oslo_limit.tenant_id", "keystoneauth's v2 name of project_id; Glint speaks identity v3."},
	{"oslo_limit.tenant_name", "keystoneauth's v2 name of project_name; Glint speaks identity v3."},
}

// Accepted documents one Glance option Glint accepts without using it.
type Accepted struct{ Section, Name, Reason string }

// AcceptedOptions returns the options Glint accepts on purpose without
// using them, with the reason.
func AcceptedOptions() []Accepted {
	out := make([]Accepted, len(accepted))
	for i, a := range accepted {
		sec, name, _ := strings.Cut(a.id, ".")
		out[i] = Accepted{sec, name, a.reason}
	}
	return out
}

// UnusedReason says why an option in Config.Unused has no effect: the
// reason Glint accepts it, or a general one.
func UnusedReason(id string) string {
	for _, a := range accepted {
		if a.id == id {
			return a.reason
		}
	}
	sec, _, _ := strings.Cut(id, ".")
	for _, s := range reservedStores {
		if sec == s {
			return "only filesystem_store_datadir of [os_glance_staging_store] is used (with enabled_backends), as in Glance."
		}
	}
	return "a Glance option Glint does not use"
}

// knownToGlance reports whether Glance 25.1 knows section.key; backend
// sections of enabled_backends know [glance_store]'s options.
func knownToGlance(section, key string, backend bool) bool {
	id := section + "." + key
	if glanceKnown[id] || backend && glanceKnown["glance_store."+key] {
		return true
	}
	for _, a := range accepted {
		if a.id == id {
			return true
		}
	}
	for _, s := range reservedStores {
		if section == s {
			for _, o := range reservedStoreOptions {
				if key == o {
					return true
				}
			}
		}
	}
	return false
}
