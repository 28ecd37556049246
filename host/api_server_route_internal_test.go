package host

import (
	"math"
	"strings"
	"testing"

	"github.com/imscript/imscript/script"
)

func testRouter(t *testing.T, decls ...string) *router {
	t.Helper()
	rt := &router{}
	for _, d := range decls {
		method, pattern, _ := strings.Cut(d, " ")
		segs, err := parsePattern(pattern)
		if err != "" {
			t.Fatalf("%s: %s", d, err)
		}
		rt.add(&route{method: method, pattern: pattern, segs: segs, what: d})
	}
	return rt
}

func TestRouteMatching(t *testing.T) {
	// Declared with the least specific first: the order must not matter.
	rt := testRouter(t,
		"GET /*",
		"GET /files/*",
		"GET /files/:name",
		"GET /users/:id",
		"DELETE /users/:id",
		"GET /users/:id/edit",
		"GET /users/new",
		"POST /users",
		"* /any/:x",
		"GET /",
		"HEAD /head-only",
		"GET /a/:b/c",
		"GET /a/b/:c",
	)
	for _, tc := range []struct {
		method, path string
		want         string // the route's what, or "405 <allow>", or "" (no route)
		params       string // k=v,k=v sorted
	}{
		{"GET", "/users/new", "GET /users/new", ""},
		{"GET", "/users/7", "GET /users/:id", "id=7"},
		{"GET", "/users/7/edit", "GET /users/:id/edit", "id=7"},
		{"DELETE", "/users/7", "DELETE /users/:id", "id=7"},
		{"HEAD", "/users/7", "GET /users/:id", "id=7"},
		{"PUT", "/users/7", "405 DELETE, GET, HEAD", ""},
		{"DELETE", "/users/new", "DELETE /users/:id", "id=new"}, // GET /users/new is for GET only
		{"GET", "/users", "GET /*", "*=users"},                  // the catch-all takes it for GET
		{"PUT", "/users", "405 GET, HEAD, POST", ""},            // Allow lists every route of the path
		{"POST", "/users", "POST /users", ""},
		{"GET", "/files/a.txt", "GET /files/:name", "name=a.txt"},
		{"GET", "/files/a/b", "GET /files/*", "*=a/b"},
		{"GET", "/files/", "GET /files/*", "*="},
		{"GET", "/files", "GET /*", "*=files"},
		{"GET", "/", "GET /", ""},
		{"GET", "/users/", "GET /*", "*=users/"},
		{"PATCH", "/any/1", "* /any/:x", "x=1"},
		{"HEAD", "/head-only", "HEAD /head-only", ""},
		{"GET", "/head-only", "GET /*", "*=head-only"},
		{"POST", "/head-only", "405 GET, HEAD", ""}, // GET /* and HEAD /head-only
		{"GET", "/a/b/c", "GET /a/b/:c", "c=c"},     // leftmost literal wins
		{"GET", "/a/x/c", "GET /a/:b/c", "b=x"},
		{"GET", "/users/caf%C3%A9%2Fx", "GET /users/:id", "id=café/x"},
		{"GET", "/%75sers/new", "GET /users/new", ""}, // an escaped literal
		{"OPTIONS", "*", "", ""},
	} {
		r, params, allow := rt.match(tc.method, tc.path)
		got := ""
		switch {
		case r != nil:
			got = r.what
		case allow != nil:
			got = "405 " + strings.Join(allow, ", ")
		}
		if got != tc.want {
			t.Errorf("%s %s: %q, want %q", tc.method, tc.path, got, tc.want)
			continue
		}
		var kv []string
		for k, v := range params {
			kv = append(kv, k+"="+v.(string))
		}
		if p := strings.Join(sortStrings(kv), ","); p != tc.params {
			t.Errorf("%s %s: params %q, want %q", tc.method, tc.path, p, tc.params)
		}
	}
	if r, _, allow := testRouter(t, "GET /x").match("GET", "/y"); r != nil || allow != nil {
		t.Errorf("no route: %v %v", r, allow)
	}
}

func sortStrings(l []string) []string {
	for i := range l {
		for j := i + 1; j < len(l); j++ {
			if l[j] < l[i] {
				l[i], l[j] = l[j], l[i]
			}
		}
	}
	return l
}

func TestRouteRedeclaredReplacesTheHandler(t *testing.T) {
	rt := testRouter(t, "GET /x", "GET /:y")
	segs, _ := parsePattern("/x")
	rt.add(&route{method: "GET", pattern: "/x", segs: segs, what: "second"})
	if len(rt.routes) != 2 {
		t.Fatalf("%d routes", len(rt.routes))
	}
	// add replaced fn, kept the first declaration (and its what).
	if r, _, _ := rt.match("GET", "/x"); r == nil || r.what != "GET /x" {
		t.Errorf("GET /x: %v", r)
	}
}

func TestRoutePatterns(t *testing.T) {
	for p, want := range map[string]string{
		"":             `starts with "/"`,
		"users":        `starts with "/"`,
		"/a/*/b":       `"*" may only be the last segment`,
		"/a*":          `a whole last segment`,
		"/:":           "parameter names",
		"/:a-b":        "parameter names",
		"/:id/:id":     "appears twice",
		"/bad%zzescap": "invalid URL escape",
	} {
		if _, err := parsePattern(p); !strings.Contains(err, want) {
			t.Errorf("%q: %q, want %q", p, err, want)
		}
	}
	for _, p := range []string{"/", "/*", "/a/:b_2/*", "/v1/things:batch", "/caf%C3%A9"} {
		if _, err := parsePattern(p); err != "" {
			t.Errorf("%q: %s", p, err)
		}
	}
}

func TestJSONBodies(t *testing.T) {
	v, err := decodeJSONBody([]byte(` {"i": 1, "f": 2.5, "n": null, "l": [true, "s"], "o": {}} `))
	if err != nil {
		t.Fatal(err)
	}
	m := v.(script.Map)
	if m["i"] != 1.0 || m["f"] != 2.5 || m["n"] != nil || len(m["l"].(script.List)) != 2 || len(m["o"].(script.Map)) != 0 {
		t.Errorf("decoded %#v", v)
	}
	for body, want := range map[string]string{
		"":                             "empty body",
		" \t\n":                        "empty body",
		"{":                            "unexpected EOF",
		"1 2":                          "trailing data",
		"[1]]":                         "trailing data",
		strings.Repeat("[", 101) + "]": "unexpected EOF",
		strings.Repeat("[", 102) + strings.Repeat("]", 102): "nested deeper than 100 levels",
	} {
		if _, err := decodeJSONBody([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.20q: %v, want %q", body, err, want)
		}
	}
	if _, err := decodeJSONBody([]byte(strings.Repeat("[", 100) + strings.Repeat("]", 100))); err != nil {
		t.Errorf("100 levels: %v", err)
	}

	emptyArray := script.JSONEmptyArray
	for _, tc := range []struct {
		v    script.Value
		want string
	}{
		{nil, "null"},
		{script.Map{"b": true, "a": 1.0, "f": 0.5, "big": 1e15, "s": "<é>", "bytes": []byte("x\xff")}, `{"a":1,"b":true,"big":1000000000000000,"bytes":"x` + "\uFFFD" + `","f":0.5,"s":"<é>"}`},
		{script.List{int64(3), script.Null, emptyArray, script.Map{}}, `[3,null,[],{}]`},
	} {
		b, err := encodeJSON(tc.v)
		if err != nil || string(b) != tc.want {
			t.Errorf("encode %#v: %s %v, want %s", tc.v, b, err, tc.want)
		}
	}
	for _, v := range []script.Value{math.NaN(), math.Inf(1), script.Function(func(script.Call) {}), &script.Object{Type: &script.Type{Name: "server"}}} {
		if _, err := encodeJSON(v); err == nil {
			t.Errorf("encode %#v: no error", v)
		}
	}
}
