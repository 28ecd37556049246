// Package opts reads the option tables that stdlib functions take
// (imscript.http.request{...}, imscript.mail.send{...}): typed fields with
// defaults, and a usage error naming the function and the option for an
// unknown name or a wrong type.
package opts

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/imscript/imscript/script"
)

// Reader reads one option table.
type Reader struct {
	fn string // the function, for error messages ("http.request")
	m  script.Map
}

// New checks that every key of m is one of allowed and returns a Reader.
// A nil m (an absent table) reads as empty.
func New(fn string, m script.Map, allowed ...string) *Reader {
	ok := make(map[string]bool, len(allowed))
	for _, a := range allowed {
		ok[a] = true
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !ok[k] {
			names := append([]string(nil), allowed...)
			sort.Strings(names)
			script.Usagef("%s: unknown option %q (options: %s)", fn, k, strings.Join(names, ", "))
		}
	}
	return &Reader{fn: fn, m: m}
}

// Has reports whether option k is set (and not nil).
func (r *Reader) Has(k string) bool { return r.m[k] != nil }

func (r *Reader) bad(k, want string, v script.Value) {
	script.Usagef("%s: option %s: want %s, got %s", r.fn, k, want, script.TypeName(v))
}

// Str reads a string (binary data is accepted as a string).
func (r *Reader) Str(k, def string) string {
	switch v := r.m[k].(type) {
	case nil:
		return def
	case string:
		return v
	case []byte:
		return string(v)
	default:
		r.bad(k, "a string", v)
	}
	return def
}

// Need reads a string that must be present and non-empty.
func (r *Reader) Need(k string) string {
	s := r.Str(k, "")
	if s == "" {
		script.Usagef("%s: option %s is required", r.fn, k)
	}
	return s
}

// Bytes reads a string or binary data (nil when absent).
func (r *Reader) Bytes(k string) []byte {
	switch v := r.m[k].(type) {
	case nil:
		return nil
	case string:
		return []byte(v)
	case []byte:
		return append([]byte(nil), v...)
	default:
		r.bad(k, "a string or bytes", v)
	}
	return nil
}

// Bool reads a boolean.
func (r *Reader) Bool(k string, def bool) bool {
	switch v := r.m[k].(type) {
	case nil:
		return def
	case bool:
		return v
	default:
		r.bad(k, "a boolean", v)
	}
	return def
}

func (r *Reader) number(k string) (float64, bool) {
	switch v := r.m[k].(type) {
	case nil:
		return 0, false
	case int64:
		return float64(v), true
	case float64:
		if math.IsNaN(v) {
			r.bad(k, "a number", "NaN")
		}
		return v, true
	default:
		r.bad(k, "a number", v)
	}
	return 0, false
}

// Int reads a whole number in lo..hi.
func (r *Reader) Int(k string, def, lo, hi int64) int64 {
	f, ok := r.number(k)
	if !ok {
		return def
	}
	if f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		script.Usagef("%s: option %s: want a whole number in %d..%d, got %v", r.fn, k, lo, hi, f)
	}
	return int64(f)
}

// Seconds reads a non-negative duration in seconds (fractions allowed).
func (r *Reader) Seconds(k string, def time.Duration) time.Duration {
	f, ok := r.number(k)
	if !ok {
		return def
	}
	if f < 0 {
		script.Usagef("%s: option %s: must not be negative", r.fn, k)
	}
	return time.Duration(f * float64(time.Second))
}

// Strings reads a string or a list of strings.
func (r *Reader) Strings(k string) []string {
	switch v := r.m[k].(type) {
	case nil:
		return nil
	case string:
		return []string{v}
	case script.List:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				script.Usagef("%s: option %s: want a list of strings, found a %s", r.fn, k, script.TypeName(e))
			}
			out = append(out, s)
		}
		return out
	case script.Map:
		if len(v) == 0 {
			return nil // an empty Lua table
		}
	}
	r.bad(k, "a string or a list of strings", r.m[k])
	return nil
}

// List reads a list (an empty Lua table reads as an empty list).
func (r *Reader) List(k string) script.List {
	switch v := r.m[k].(type) {
	case nil:
		return nil
	case script.List:
		return v
	case script.Map:
		if len(v) == 0 {
			return nil
		}
	}
	r.bad(k, "a list", r.m[k])
	return nil
}

// Headers reads a table of header names to a string, number or list of
// strings.
func (r *Reader) Headers(k string) map[string][]string {
	var m script.Map
	switch v := r.m[k].(type) {
	case nil:
		return nil
	case script.Map:
		m = v
	case script.List:
		if len(v) == 0 {
			return nil
		}
		r.bad(k, "a table of header names to values", v)
	default:
		r.bad(k, "a table of header names to values", v)
	}
	out := make(map[string][]string, len(m))
	for name, v := range m {
		switch x := v.(type) {
		case string:
			out[name] = append(out[name], x)
		case []byte:
			out[name] = append(out[name], string(x))
		case int64:
			out[name] = append(out[name], fmt.Sprint(x))
		case float64:
			out[name] = append(out[name], fmt.Sprint(x))
		case bool:
			out[name] = append(out[name], fmt.Sprint(x))
		case script.List:
			for _, e := range x {
				s, ok := e.(string)
				if !ok {
					script.Usagef("%s: option %s: header %s: want strings, found a %s", r.fn, k, name, script.TypeName(e))
				}
				out[name] = append(out[name], s)
			}
		default:
			script.Usagef("%s: option %s: header %s: want a string, got %s", r.fn, k, name, script.TypeName(v))
		}
	}
	return out
}

// TLS builds a client TLS configuration from the options ca_file (PEM
// certificates trusted besides the system's) and insecure (no certificate
// verification). A relative ca_file is found in dir (the script's folder).
// It returns nil when neither is set.
func (r *Reader) TLS(dir, serverName string) (*tls.Config, error) {
	caFile := r.Str("ca_file", "")
	if caFile != "" && !filepath.IsAbs(caFile) {
		caFile = filepath.Join(dir, caFile)
	}
	insecure := r.Bool("insecure", false)
	if caFile == "" && !insecure {
		return nil, nil
	}
	cfg := &tls.Config{ServerName: serverName, InsecureSkipVerify: insecure, MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificates in it", caFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}
