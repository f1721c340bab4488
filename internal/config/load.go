package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"gopkg.in/ini.v1"
)

// maxExpanded bounds a value after $name substitution, so that a chain of
// references doubling at each step cannot exhaust memory.
const maxExpanded = 1 << 20

// rawValue is one "key = value" assignment as read from a file.
type rawValue struct {
	key   string // as written in the file, for Ignored and error messages
	value string
	file  string
}

// parsedFile holds one file's assignments by normalized section and key.
type parsedFile struct {
	path     string
	sections map[string]map[string]rawValue
	raw      []string // section names as written, for [cors.<name>]
}

// Load reads the given files in order (later files override earlier ones,
// as oslo.config does), then every *.conf file in each dir in lexical order,
// starting from Default() values, and finally calls Finish.
//
// Errors name the file and the "section.option" concerned; all bad values
// are reported at once. Unknown sections and options are collected in
// Config.Ignored, never fatal.
func Load(files, dirs []string) (*Config, error) {
	parsed, err := readAll(files, dirs)
	if err != nil {
		return nil, err
	}

	c := defaults()
	r := newResolver(parsed)
	var errs []error
	for i := range options {
		o := &options[i]
		rv, sec, ok := r.optRaw(o)
		if !ok {
			continue
		}
		where := sec + "." + rv.key
		v, err := r.expand(sec, rv.key, rv.value)
		if err == nil {
			err = o.apply(c, v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", rv.file, where, err))
			continue
		}
		if o.derive != nil {
			c.derived[o.slot].userSet = *o.str(c) != ""
		}
	}
	errs = append(errs, loadBackends(c, r)...)
	errs = append(errs, loadCORSSections(c, r)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c.Ignored, c.Unused = r.ignored()
	c.fromFiles = len(parsed) > 0
	c.Finish()
	return c, nil
}

// confFiles lists dir/*.conf like oslo's sorted(glob(...)): lexical order,
// hidden files skipped (Python's glob does not match a leading dot).
func confFiles(dir string) ([]string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("config dir %s: %w", dir, unwrapPath(err))
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("config dir %s: not a directory", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("config dir %s: %w", dir, unwrapPath(err))
	}
	var out []string
	for _, e := range entries {
		if name := e.Name(); strings.HasSuffix(name, ".conf") && !strings.HasPrefix(name, ".") {
			out = append(out, filepath.Join(dir, name))
		}
	}
	sort.Strings(out)
	return out, nil
}

// expandUser expands a leading ~ like os.path.expanduser, which oslo applies
// to --config-file and --config-dir.
func expandUser(p string) string {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return p
	}
	return filepath.Join(home, p[1:])
}

// unwrapPath drops the *fs.PathError wrapper whose message repeats the path
// we already print, keeping the cause for errors.Is.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// readFile parses one config file.
func readFile(path string) (*parsedFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, unwrapPath(err))
	}
	if err := checkSectionFirst(data); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	f, err := parseINI(data)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %s", path, strings.TrimSpace(err.Error()))
	}
	pf := &parsedFile{path: path, sections: map[string]map[string]rawValue{}}
	for _, sec := range f.Sections() {
		name := normSection(sec.Name())
		pf.raw = append(pf.raw, sec.Name())
		m := pf.sections[name]
		if m == nil {
			m = map[string]rawValue{}
			pf.sections[name] = m
		}
		for _, k := range sec.Keys() {
			m[normKey(k.Name())] = rawValue{key: k.Name(), value: joinContinuation(k.Value()), file: path}
		}
	}
	if err := addMultiStr(pf, data); err != nil {
		return nil, fmt.Errorf("config file %s: %s", path, strings.TrimSpace(err.Error()))
	}
	return pf, nil
}

// multiStr are the options Glance declares MultiStrOpt: repeating the key
// adds a value instead of replacing it. Glint reads them as lists.
// ([oslo_messaging_notifications] driver and its deprecated [DEFAULT]
// notification_driver are oslo.messaging's.)
var multiStr = []string{"filesystem_store_datadirs", "driver", "notification_driver"}

// addMultiStr joins every assignment of a multiStr key. It parses again
// with ini.v1's shadows, which would change other keys (first value wins,
// empty values dropped), so only these keys are taken from that parse.
func addMultiStr(pf *parsedFile, data []byte) error {
	found := false
	for _, name := range multiStr {
		found = found || bytes.Contains(data, []byte(name))
	}
	if !found {
		return nil
	}
	f, err := parseINIWith(data, true)
	if err != nil {
		return err
	}
	for _, sec := range f.Sections() {
		for _, k := range sec.Keys() {
			if !slices.Contains(multiStr, normKey(k.Name())) {
				continue
			}
			pf.sections[normSection(sec.Name())][normKey(k.Name())] = rawValue{key: k.Name(),
				value: joinContinuation(strings.Join(k.ValueWithShadows(), ",")), file: pf.path}
		}
	}
	return nil
}

// parseINI runs ini.v1 configured like oslo.config's parser: no inline
// comments (a " # ..." after a value is part of the value), no backslash
// continuation, python-style indented continuation lines.
func parseINI(data []byte) (f *ini.File, err error) { return parseINIWith(data, false) }

func parseINIWith(data []byte, shadows bool) (f *ini.File, err error) {
	// ini.v1 is third-party code fed with operator input; turn a panic
	// into an error rather than crash the server at startup.
	defer func() {
		if p := recover(); p != nil {
			f, err = nil, fmt.Errorf("cannot parse: %v", p)
		}
	}()
	return ini.LoadSources(ini.LoadOptions{
		AllowShadows:               shadows,
		IgnoreInlineComment:        true,
		IgnoreContinuation:         true,
		AllowPythonMultilineValues: true,
		// ini.v1 only sees continuation lines within one buffer's
		// reach; make the buffer hold the whole file.
		ReaderBufferSize: len(data) + 4096,
	}, data)
}

// checkSectionFirst reproduces oslo's "Section must be started before
// assignment" error, which ini.v1 does not have (it files such keys under
// DEFAULT silently).
func checkSectionFirst(data []byte) error {
	s := strings.TrimPrefix(string(data), "\uFEFF")
	for n, line := range strings.Split(s, "\n") {
		line = strings.TrimRight(line, " \t\r\f\v")
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case line[0] == '[':
			return nil
		default:
			return fmt.Errorf("line %d: assignment before the first [section]: %q", n+1, line)
		}
	}
	return nil
}

// joinContinuation normalizes a value that spans indented continuation
// lines the way oslo does: each line stripped, joined with newlines.
func joinContinuation(v string) string {
	if !strings.Contains(v, "\n") {
		return v
	}
	lines := strings.Split(v, "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	for len(lines) > 1 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines, "\n")
}

// normSection mirrors oslo: group names are case-insensitive (lowercased),
// except DEFAULT which must be spelled exactly so.
func normSection(s string) string {
	if s == defaultSection {
		return s
	}
	return strings.ToLower(s)
}

// normKey accepts "bind-host" for "bind_host" (oslo's option dest form).
func normKey(k string) string { return strings.ReplaceAll(k, "-", "_") }

// resolver answers "what is the value of section.key" across all files and
// performs $name substitution, memoized and with loop detection.
type resolver struct {
	files  []*parsedFile
	known  map[string]*optDef   // "section.key" (current and deprecated spellings)
	byID   map[string]*optDef   // "section.key" (current spelling only)
	memo   map[[2]string]result // expanded raw values by {section, key}
	typed  map[string]result    // formatted typed values of known options by id
	active map[[2]string]bool   // expansions in progress, to detect loops
	// backends are the sections of enabled_backends, whose keys are
	// [glance_store] options.
	backends map[string]bool
	// corsSections are the [cors.<name>] sections, whose keys are [cors]
	// options.
	corsSections map[string]bool
}

type result struct {
	v   string
	err error
}

func newResolver(files []*parsedFile) *resolver {
	r := &resolver{
		files:  files,
		known:  map[string]*optDef{},
		byID:   map[string]*optDef{},
		memo:   map[[2]string]result{},
		typed:  map[string]result{},
		active: map[[2]string]bool{},
	}
	for i := range options {
		o := &options[i]
		r.byID[o.id()] = o
		r.known[o.id()] = o
		for _, d := range o.deprecated {
			r.known[d] = o
		}
	}
	return r
}

// raw returns the assignment of section.key in the newest file setting it.
func (r *resolver) raw(section, key string) (rawValue, bool) {
	for i := len(r.files) - 1; i >= 0; i-- {
		if rv, ok := r.files[i].sections[section][key]; ok {
			return rv, true
		}
	}
	return rawValue{}, false
}

// optRaw finds the value of option o as oslo does: newest file first, and
// within a file the current name before deprecated ones. section is where
// it was found (rv.key the key as written).
func (r *resolver) optRaw(o *optDef) (rv rawValue, section string, ok bool) {
	names := append([]string{o.id()}, o.deprecated...)
	for i := len(r.files) - 1; i >= 0; i-- {
		for _, n := range names {
			sec, key, _ := strings.Cut(n, ".")
			if rv, ok := r.files[i].sections[sec][key]; ok {
				return rv, sec, true
			}
		}
	}
	return rawValue{}, "", false
}

// expand substitutes $name, ${name}, $section.name and ${section.name} in
// the value s of section.key, following Python's
// string.Template as used by oslo: $$ (and \$) is a literal $, a $ not
// followed by a name is left alone, and a name is looked up in the same
// section first, then in DEFAULT. An unknown name is an error.
func (r *resolver) expand(section, key, s string) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	at := [2]string{section, normKey(key)}
	if res, ok := r.memo[at]; ok {
		return res.v, res.err
	}
	if r.active[at] {
		return "", fmt.Errorf("substitution loop through %s.%s", section, key)
	}
	r.active[at] = true
	defer delete(r.active, at)

	v, err := r.substitute(section, s)
	r.memo[at] = result{v, err}
	return v, err
}

func (r *resolver) substitute(section, s string) (string, error) {
	s = strings.ReplaceAll(s, `\$`, "$$")
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '$' {
			b.WriteByte(s[i])
			i++
			continue
		}
		if i+1 < len(s) && s[i+1] == '$' {
			b.WriteByte('$')
			i += 2
			continue
		}
		name, n := scanRef(s[i+1:])
		if n == 0 {
			b.WriteByte('$')
			i++
			continue
		}
		v, err := r.lookupRef(section, name)
		if err != nil {
			return "", err
		}
		b.WriteString(v)
		if b.Len() > maxExpanded {
			return "", fmt.Errorf("value longer than %d bytes after substitution", maxExpanded)
		}
		i += 1 + n
	}
	return b.String(), nil
}

// scanRef reads a reference after '$': a name matching oslo's idpattern
// [_a-z][._a-z0-9]* (case-insensitive), bare or in braces. It returns the
// name and the number of bytes consumed, 0 if there is no valid reference.
func scanRef(s string) (string, int) {
	braced := strings.HasPrefix(s, "{")
	start := 0
	if braced {
		start = 1
	}
	end := start
	for end < len(s) && isIdent(s[end], end == start) {
		end++
	}
	if end == start {
		return "", 0
	}
	if braced {
		if end >= len(s) || s[end] != '}' {
			return "", 0
		}
		return s[start:end], end + 1
	}
	return s[start:end], end
}

func isIdent(c byte, first bool) bool {
	switch {
	case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		return true
	case '0' <= c && c <= '9', c == '.':
		return !first
	}
	return false
}

// lookupRef resolves one reference made from section: "group.name" refers
// to that group, a plain name to section then DEFAULT (oslo's StrSubWrapper).
func (r *resolver) lookupRef(section, name string) (string, error) {
	if grp, key, ok := strings.Cut(name, "."); ok {
		if v, found, err := r.ref(normSection(grp), key); found {
			return v, err
		}
	} else if v, found, err := r.ref(section, name); found {
		return v, err
	}
	if v, found, err := r.ref(defaultSection, name); found {
		return v, err
	}
	return "", fmt.Errorf("$%s refers to an unknown option", name)
}

// ref returns the value of section.key for substitution: a known option's
// effective value (from the files or its default, as oslo substitutes the
// typed value), or else the raw value of an option Glint does not know but
// the files set (Glance knows options Glint ignores; referring to them
// should keep working).
func (r *resolver) ref(section, key string) (string, bool, error) {
	id := section + "." + key
	if o := r.byID[id]; o != nil {
		v, err := r.optionValue(o)
		return v, true, err
	}
	if rv, ok := r.raw(section, key); ok {
		v, err := r.expand(section, rv.key, rv.value)
		return v, true, err
	}
	return "", false, nil
}

// optionValue is o's effective value formatted for substitution.
func (r *resolver) optionValue(o *optDef) (string, error) {
	id := o.id()
	if res, ok := r.typed[id]; ok {
		return res.v, res.err
	}
	s, sec, key := o.def, o.section, o.name
	if rv, rsec, ok := r.optRaw(o); ok {
		s, sec, key = rv.value, rsec, rv.key
	}
	v, err := r.expand(sec, key, s)
	if err == nil {
		var scratch Config
		if err = o.apply(&scratch, v); err == nil {
			v = o.format(&scratch)
		}
	}
	if err != nil {
		err = fmt.Errorf("in %s.%s: %w", sec, key, err)
	}
	r.typed[id] = result{v, err}
	return v, err
}

// ignored lists "section.key" for every assignment no option claims:
// unknown to Glance too, or known to Glance (unused).
func (r *resolver) ignored() (unknown, unused []string) {
	for _, f := range r.files {
		for sec, keys := range f.sections {
			for key, rv := range keys {
				if r.backends[sec] && r.known["glance_store."+key] != nil {
					continue
				}
				if r.corsSections[sec] && r.known["cors."+key] != nil {
					continue
				}
				if r.known[sec+"."+key] != nil {
					continue
				}
				if knownToGlance(sec, normKey(key), r.backends[sec]) {
					unused = append(unused, sec+"."+normKey(key))
				} else {
					unknown = append(unknown, sec+"."+rv.key)
				}
			}
		}
	}
	slices.Sort(unknown)
	slices.Sort(unused)
	return slices.Compact(unknown), slices.Compact(unused)
}

// applySection applies to c the options of section, as they are set in
// another section sec (a backend's section holds [glance_store] options,
// a [cors.<name>] section [cors] ones).
func (r *resolver) applySection(c *Config, sec, section string) []error {
	var errs []error
	for i := range options {
		o := &options[i]
		if o.section != section {
			continue
		}
		rv, ok := r.raw(sec, o.name)
		if !ok {
			continue
		}
		v, err := r.expand(sec, rv.key, rv.value)
		if err == nil {
			err = o.apply(c, v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s.%s: %w", rv.file, sec, rv.key, err))
		}
	}
	return errs
}

// loadBackends builds the per-backend configurations of enabled_backends:
// each backend's section holds [glance_store] options for that store only.
func loadBackends(c *Config, r *resolver) []error {
	if len(c.EnabledBackends) == 0 {
		return nil
	}
	var errs []error
	c.Backends = map[string]*Config{}
	r.backends = map[string]bool{}
	for _, item := range c.EnabledBackends {
		name, _, _ := strings.Cut(item, ":")
		name = strings.TrimSpace(name)
		sec := normSection(name)
		if c.Backends[name] != nil {
			errs = append(errs, fmt.Errorf("DEFAULT.enabled_backends: %s is listed twice", name))
			continue
		}
		bc := *c
		bc.Backends, bc.EnabledBackends = nil, nil
		r.backends[sec] = true
		errs = append(errs, r.applySection(&bc, sec, "glance_store")...)
		c.Backends[name] = &bc
	}
	if c.DefaultBackend == "" {
		errs = append(errs, errors.New("glance_store.default_backend must name one of enabled_backends"))
	} else if c.Backends[c.DefaultBackend] == nil {
		errs = append(errs, fmt.Errorf("glance_store.default_backend = %s is not one of enabled_backends", c.DefaultBackend))
	}
	return errs
}
