package js

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Node's resolution of a name to a file (modules.go loads it).

// pkgError is a package.json that does not allow what was asked.
type pkgError struct{ code, msg string }

func (e *pkgError) Error() string { return e.msg }

// exts are what a file name may leave out, in the order they are tried.
var exts = []string{".js", ".mjs", ".cjs", ".json"}

// resolveFile finds the file name names from a file in dir (Node's
// algorithm, with package "exports").
func (v *vm) resolveFile(dir, name string, esm bool) (string, error) {
	if name == "" {
		return "", fs.ErrNotExist
	}
	if filepath.IsAbs(name) || name == "." || name == ".." || strings.HasPrefix(name, "./") || strings.HasPrefix(name, "../") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, name)
		}
		return v.fileOrDir(p)
	}
	pkgName, sub := name, ""
	if i := strings.IndexByte(name, '/'); i >= 0 {
		if strings.HasPrefix(name, "@") {
			if j := strings.IndexByte(name[i+1:], '/'); j >= 0 {
				pkgName, sub = name[:i+1+j], name[i+1+j+1:]
			}
		} else {
			pkgName, sub = name[:i], name[i+1:]
		}
	}
	ld := v.inst.Program().(*program).ld
	for d := dir; ; {
		if filepath.Base(d) != "node_modules" {
			pd := filepath.Join(d, "node_modules", pkgName)
			if st, err := os.Stat(pd); err == nil && st.IsDir() {
				if pj := ld.pkg(pd); pj != nil && len(pj.Exports) > 0 && string(pj.Exports) != "null" {
					return v.viaExports(pd, pj, sub, esm)
				}
				if sub == "" {
					return v.fileOrDir(pd)
				}
				return v.fileOrDir(filepath.Join(pd, sub))
			}
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fs.ErrNotExist
		}
		d = parent
	}
}

// fileOrDir is Node's LOAD_AS_FILE then LOAD_AS_DIRECTORY.
func (v *vm) fileOrDir(p string) (string, error) {
	if isFile(p) {
		return p, nil
	}
	for _, e := range exts {
		if isFile(p + e) {
			return p + e, nil
		}
	}
	if st, err := os.Stat(p); err != nil || !st.IsDir() {
		return "", fs.ErrNotExist
	}
	if pj := v.inst.Program().(*program).ld.pkg(p); pj != nil && pj.Main != "" {
		m := filepath.Join(p, pj.Main)
		if isFile(m) {
			return m, nil
		}
		for _, e := range exts {
			if isFile(m + e) {
				return m + e, nil
			}
		}
		for _, e := range exts {
			if isFile(filepath.Join(m, "index"+e)) {
				return filepath.Join(m, "index"+e), nil
			}
		}
	}
	for _, e := range exts {
		if isFile(filepath.Join(p, "index"+e)) {
			return filepath.Join(p, "index"+e), nil
		}
	}
	return "", fs.ErrNotExist
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// viaExports resolves subpath sub of the package in pd by its "exports".
func (v *vm) viaExports(pd string, pj *pkgJSON, sub string, esm bool) (string, error) {
	exp, err := decodeOrdered(json.NewDecoder(bytes.NewReader(pj.Exports)))
	if err != nil {
		return "", &pkgError{"ERR_INVALID_PACKAGE_CONFIG", fmt.Sprintf("Invalid package config %s: exports: %v", filepath.Join(pd, "package.json"), err)}
	}
	key := "."
	if sub != "" {
		key = "./" + sub
	}
	conds := map[string]bool{"node": true, "require": !esm, "import": esm, "default": true}
	// An object whose keys start with "." maps subpaths; else it is the
	// conditions of ".".
	m, isMap := exp.(ordered)
	subpaths := isMap && len(m) > 0 && strings.HasPrefix(m[0].k, ".")
	var target any
	star := ""
	switch {
	case subpaths:
		if t, ok := m.get(key); ok {
			target = t
		} else {
			best := -1
			for _, e := range m {
				i := strings.IndexByte(e.k, '*')
				if i < 0 || len(key) < len(e.k)-1 || !strings.HasPrefix(key, e.k[:i]) || !strings.HasSuffix(key, e.k[i+1:]) {
					continue
				}
				if i > best { // the longest prefix wins
					best, target, star = i, e.v, key[i:len(key)-len(e.k[i+1:])]
				}
			}
		}
	case key == ".":
		target = exp
	}
	if t := pickTarget(target, conds); t != "" {
		t = strings.ReplaceAll(t, "*", star)
		p := filepath.Join(pd, filepath.FromSlash(t))
		if isFile(p) {
			return p, nil
		}
		return "", fs.ErrNotExist
	}
	return "", &pkgError{"ERR_PACKAGE_PATH_NOT_EXPORTED", fmt.Sprintf("Package subpath '%s' is not defined by \"exports\" in %s", key, filepath.Join(pd, "package.json"))}
}

// pickTarget is the first target of an "exports" value that the
// conditions select, in the file's order ("" when none), as Node does.
func pickTarget(t any, conds map[string]bool) string {
	switch t := t.(type) {
	case string:
		return t
	case []any:
		for _, x := range t {
			if s := pickTarget(x, conds); s != "" {
				return s
			}
		}
	case ordered:
		for _, e := range t {
			if conds[e.k] {
				if s := pickTarget(e.v, conds); s != "" {
					return s
				}
			}
		}
	}
	return ""
}

// ordered is a JSON object with its keys in the file's order.
type ordered []struct {
	k string
	v any
}

func (o ordered) get(k string) (any, bool) {
	for _, e := range o {
		if e.k == k {
			return e.v, true
		}
	}
	return nil, false
}

// decodeOrdered decodes the next JSON value, objects as ordered.
func decodeOrdered(d *json.Decoder) (any, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		var o ordered
		for d.More() {
			kt, err := d.Token()
			if err != nil {
				return nil, err
			}
			k, _ := kt.(string)
			val, err := decodeOrdered(d)
			if err != nil {
				return nil, err
			}
			o = append(o, struct {
				k string
				v any
			}{k, val})
		}
		_, err = d.Token()
		return o, err
	case json.Delim('['):
		var a []any
		for d.More() {
			val, err := decodeOrdered(d)
			if err != nil {
				return nil, err
			}
			a = append(a, val)
		}
		_, err = d.Token()
		return a, err
	}
	return tok, nil
}
