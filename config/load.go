package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Load reads the app configs in paths: a folder gives its *.yaml and *.yml
// files in sorted order (not its subfolders or hidden files); a file named
// explicitly is read whatever its extension. Then the apps are checked
// against each other: names unique, all proxy, blue and green ports distinct.
// The apps come sorted by name. The error, if any, is Errors with every
// problem of every file, and then no app is returned.
func Load(paths ...string) ([]*App, error) {
	var errs Errors
	var files []string
	seen := map[string]bool{}
	for _, p := range paths {
		found, err := configFiles(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range found {
			key := f
			if abs, err := filepath.Abs(f); err == nil {
				key = abs
			}
			if !seen[key] {
				seen[key] = true
				files = append(files, f)
			}
		}
	}

	var all []*parsed
	for _, file := range files {
		data, err := readFile(file)
		if err != nil {
			errs = append(errs, &Error{File: file, Msg: err.Error()})
			continue
		}
		p := parse(data, file)
		errs = append(errs, p.errs...)
		all = append(all, p)
	}
	errs = append(errs, crossFile(all)...)
	if err := errs.err(); err != nil {
		return nil, err
	}
	apps := make([]*App, len(all))
	for i, p := range all {
		apps[i] = p.app
	}
	slices.SortFunc(apps, func(a, b *App) int { return strings.Compare(a.Name, b.Name) })
	return apps, nil
}

// LoadDir reads every app config in the folder dir: Load(dir).
func LoadDir(dir string) ([]*App, error) {
	return Load(dir)
}

// IsConfigFile reports whether a file in an apps folder is read as an app
// config: *.yaml or *.yml, not hidden.
func IsConfigFile(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	ext := filepath.Ext(name)
	return ext == ".yaml" || ext == ".yml"
}

// configFiles lists the files a path stands for.
func configFiles(p string) ([]string, *Error) {
	info, err := os.Stat(p)
	if err != nil {
		return nil, &Error{File: p, Msg: statProblem(err)}
	}
	if !info.IsDir() {
		return []string{p}, nil
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, &Error{File: p, Msg: fmt.Sprintf("cannot read the folder: %v", unwrapPath(err))}
	}
	var files []string
	for _, e := range entries { // ReadDir sorts by name
		if !IsConfigFile(e.Name()) {
			continue
		}
		full := filepath.Join(p, e.Name())
		if st, err := os.Stat(full); err == nil && st.IsDir() {
			continue
		}
		files = append(files, full)
	}
	return files, nil
}

// readFile reads one config file, bounded in size.
func readFile(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, errors.New(statProblem(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read: %v", unwrapPath(err))
	}
	return data, nil
}

// statProblem says what is wrong with a path in the user's words.
func statProblem(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "does not exist"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	return fmt.Sprintf("cannot read: %v", unwrapPath(err))
}

// unwrapPath drops the path from a *fs.PathError: the Error names it already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// crossFile checks the apps against each other, in file order: a name or a
// port already used by an earlier app is reported at the later one.
func crossFile(all []*parsed) Errors {
	var errs Errors
	type use struct {
		app, field, file string
		at               pos
	}
	names := map[string]use{}
	ports := map[int]use{}
	for _, p := range all {
		app := p.app
		if app.Name != "" {
			at := p.places["name"]
			if prev, dup := names[app.Name]; dup {
				errs = append(errs, &Error{File: app.File, Line: at.line, Col: at.col, Field: "name",
					Msg: fmt.Sprintf("%q is already the name of the app in %s:%d:%d", app.Name, prev.file, prev.at.line, prev.at.col)})
			} else {
				names[app.Name] = use{app: app.Name, field: "name", file: app.File, at: at}
			}
		}
		mine := map[int]bool{}
		for _, pp := range []struct {
			field string
			port  int
		}{{"ports.proxy", app.Ports.Proxy}, {"ports.blue", app.Ports.Blue}, {"ports.green", app.Ports.Green}} {
			if pp.port == 0 || mine[pp.port] {
				continue
			}
			mine[pp.port] = true
			at := p.places[pp.field]
			if prev, dup := ports[pp.port]; dup {
				who := "another app"
				if prev.app != "" {
					who = fmt.Sprintf("app %q", prev.app)
				}
				errs = append(errs, &Error{File: app.File, Line: at.line, Col: at.col, Field: pp.field,
					Msg: fmt.Sprintf("port %d is already %s of %s in %s:%d:%d; all proxy, blue and green ports must be distinct", pp.port, prev.field, who, prev.file, prev.at.line, prev.at.col)})
				continue
			}
			ports[pp.port] = use{app: app.Name, field: pp.field, file: app.File, at: at}
		}
	}
	return errs
}
