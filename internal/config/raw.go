package config

// RawFiles are configuration files read as plain assignments, without
// checking any value: for the upgrade check, which looks for options that
// no longer exist and must report on files that Load rejects.
type RawFiles struct{ r *resolver }

// ReadRaw reads files and then the *.conf files of dirs, as Load does.
func ReadRaw(files, dirs []string) (*RawFiles, error) {
	parsed, err := readAll(files, dirs)
	if err != nil {
		return nil, err
	}
	return &RawFiles{r: newResolver(parsed)}, nil
}

// readAll parses files, then every *.conf file of each dir in lexical order.
func readAll(files, dirs []string) ([]*parsedFile, error) {
	var parsed []*parsedFile
	for _, path := range files {
		pf, err := readFile(expandUser(path))
		if err != nil {
			return nil, err
		}
		parsed = append(parsed, pf)
	}
	for _, dir := range dirs {
		paths, err := confFiles(expandUser(dir))
		if err != nil {
			return nil, err
		}
		for _, path := range paths {
			pf, err := readFile(path)
			if err != nil {
				return nil, err
			}
			parsed = append(parsed, pf)
		}
	}
	return parsed, nil
}

// Value is section.key as the newest file setting it gives it, unexpanded.
func (f *RawFiles) Value(section, key string) (string, bool) {
	rv, ok := f.r.raw(normSection(section), normKey(key))
	return rv.value, ok
}

// List is Value read as a list option.
func (f *RawFiles) List(section, key string) []string {
	v, _ := f.Value(section, key)
	return parseList(v)
}

// Bool is Value read as a boolean option; ok is false when it is unset or
// not a boolean.
func (f *RawFiles) Bool(section, key string) (v, ok bool) {
	s, set := f.Value(section, key)
	if !set {
		return false, false
	}
	b, err := parseBool(s)
	return b, err == nil
}
