package host

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/imscript/imscript/host/internal/wire/httpwire"
	"github.com/imscript/imscript/script"
)

// srv:route(method, pattern, fn(req, res)): the routes of an http or
// websocket server. A pattern is a path of segments: literal ones, ":name"
// ones that take one non-empty segment into req.params.name, and a last
// "*" that takes the rest of the path (possibly empty) into req.params["*"].
//
// The route that takes a request is the most specific one whose pattern
// and method match: patterns are compared segment by segment from the
// left, and at the first segment where they differ a literal beats a
// parameter, which beats "*"; equally specific routes go in declaration
// order. So /users/new beats /users/:id whatever the order they were
// declared in, and /users/:id/edit beats /users/*. A method matches when
// it is the request's, "*", or GET for a HEAD request. A path that routes
// match only for other methods is answered 405 with an Allow header; a
// path no route matches goes to the request handler (else 404).
//
// Routes belong to a version of the script, like its handlers: they are
// kept per instance and server (the server's handlerSet, see routerOf),
// and a reload replaces them with the new version's.

// route is one srv:route declaration.
type route struct {
	method  string // upper case, or "*"
	pattern string
	segs    []segment
	fn      script.Callback
	what    string // the handler's name in the log: "route GET /users/:id"
	order   int    // declaration order
}

type segKind uint8

// Segment kinds, most specific first.
const (
	segLiteral segKind = iota
	segParam
	segRest
)

type segment struct {
	kind segKind
	text string // literal: the segment, unescaped; param: its name
}

// router is the routes of one server in one instance, most specific first.
// Only the instance's worker touches it.
type router struct {
	routes []*route
	next   int
}

// routers holds each instance's routers, keyed by the instance's
// handlerSet of the server (unique per instance and server). An entry is
// removed when its instance closes.
var routers sync.Map // *handlerSet → *router

// routerOf is the router of server s in inst, or nil when the version
// declared no route for s.
func routerOf(inst *instance, s *Server) *router {
	hs := inst.handlers[s]
	if hs == nil {
		return nil
	}
	if v, ok := routers.Load(hs); ok {
		return v.(*router)
	}
	return nil
}

func srvRoute(c script.Call) {
	s := self(c)
	method := strings.ToUpper(c.Str(0, "method"))
	pattern := c.Str(1, "pattern")
	fn := c.Func(2, "handler")
	if !s.proto.http {
		script.Usagef("server.route: routes are for http and websocket servers, not %s", s.proto.name)
	}
	if method != "*" && !httpwire.ValidHeaderName(method) {
		script.Usagef("server.route: %q is not an HTTP method (GET, POST, ... or \"*\")", method)
	}
	segs, err := parsePattern(pattern)
	if err != "" {
		script.Usagef("server.route: pattern %q: %s", pattern, err)
	}
	inst := instOf(c)
	hs := inst.handlers[s]
	if hs == nil {
		script.Usagef("server.route: this server was declared by another version of the script")
	}
	rt := routerOf(inst, s)
	if rt == nil {
		rt = &router{}
		routers.Store(hs, rt)
		inst.AtClose(func() { routers.Delete(hs) })
	}
	rt.add(&route{method: method, pattern: pattern, segs: segs, fn: fn, what: "route " + method + " " + pattern})
}

// parsePattern splits a route pattern into segments; the error, if any,
// says what is wrong with it.
func parsePattern(p string) ([]segment, string) {
	if !strings.HasPrefix(p, "/") {
		return nil, `a pattern starts with "/"`
	}
	parts := strings.Split(p[1:], "/")
	segs := make([]segment, len(parts))
	var names []string
	for i, part := range parts {
		switch {
		case part == "*":
			if i != len(parts)-1 {
				return nil, `"*" may only be the last segment (/static/*)`
			}
			segs[i] = segment{kind: segRest}
		case strings.HasPrefix(part, ":"):
			name := part[1:]
			if name == "" || strings.IndexFunc(name, func(r rune) bool {
				return !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
			}) >= 0 {
				return nil, "parameter names are letters, digits and _ (:id), got " + strings.TrimSpace(part)
			}
			if slices.Contains(names, name) {
				return nil, "parameter :" + name + " appears twice"
			}
			names = append(names, name)
			segs[i] = segment{kind: segParam, text: name}
		case strings.Contains(part, "*"):
			return nil, `"*" may only be a whole last segment (/static/*)`
		default:
			lit, err := url.PathUnescape(part)
			if err != nil {
				return nil, err.Error()
			}
			segs[i] = segment{kind: segLiteral, text: lit}
		}
	}
	return segs, ""
}

// add declares r; the same method and pattern declared again replaces the
// handler (as srv:on does).
func (rt *router) add(r *route) {
	for _, old := range rt.routes {
		if old.method == r.method && old.pattern == r.pattern {
			old.fn = r.fn
			return
		}
	}
	r.order = rt.next
	rt.next++
	rt.routes = append(rt.routes, r)
	sort.SliceStable(rt.routes, func(i, j int) bool { return before(rt.routes[i], rt.routes[j]) })
}

// before says whether a is tried before b: the more specific at the first
// segment where their kinds differ, else the one declared first.
func before(a, b *route) bool {
	for i := 0; i < len(a.segs) && i < len(b.segs); i++ {
		if a.segs[i].kind != b.segs[i].kind {
			return a.segs[i].kind < b.segs[i].kind
		}
	}
	// Equal kinds up to the shorter: the two cannot match the same path
	// unless they are as long.
	if len(a.segs) != len(b.segs) {
		return len(a.segs) > len(b.segs)
	}
	return a.order < b.order
}

// match finds the route for a request: the route (with its parameters) or,
// when the path matches only routes of other methods, the methods to list
// in Allow. Both are empty when no route matches the path.
func (rt *router) match(method, escapedPath string) (r *route, params script.Map, allow []string) {
	if !strings.HasPrefix(escapedPath, "/") {
		return nil, nil, nil // "OPTIONS *"
	}
	path := escapedPath[1:]
	for _, cand := range rt.routes {
		if !cand.matches(path) {
			continue
		}
		if cand.method == "*" || cand.method == method || (method == http.MethodHead && cand.method == http.MethodGet) {
			return cand, cand.params(path), nil
		}
		if !slices.Contains(allow, cand.method) {
			allow = append(allow, cand.method)
		}
	}
	if slices.Contains(allow, http.MethodGet) && !slices.Contains(allow, http.MethodHead) {
		allow = append(allow, http.MethodHead)
	}
	sort.Strings(allow)
	return nil, nil, allow
}

// nextSegment cuts path at its first "/": the segment, the rest and
// whether there was a "/".
func nextSegment(path string) (seg, rest string, more bool) {
	if i := strings.IndexByte(path, '/'); i >= 0 {
		return path[:i], path[i+1:], true
	}
	return path, "", false
}

// matches says whether the route's pattern matches path (escaped, without
// its leading "/"). It allocates only for a segment with escapes.
func (r *route) matches(path string) bool {
	more := true
	for _, sg := range r.segs {
		if !more {
			return false // the path ended first
		}
		if sg.kind == segRest {
			return true
		}
		var seg string
		seg, path, more = nextSegment(path)
		switch sg.kind {
		case segLiteral:
			if seg != sg.text && unescape(seg) != sg.text {
				return false
			}
		case segParam:
			if seg == "" {
				return false
			}
		}
	}
	return !more
}

// params collects the parameters of a path the route matches.
func (r *route) params(path string) script.Map {
	m := script.Map{}
	for _, sg := range r.segs {
		if sg.kind == segRest {
			m["*"] = unescape(path)
			break
		}
		var seg string
		seg, path, _ = nextSegment(path)
		if sg.kind == segParam {
			m[sg.text] = unescape(seg)
		}
	}
	return m
}

// unescape decodes a path segment ('+' stays '+': this is a path, not a
// query); the request parser has checked its escapes.
func unescape(s string) string {
	if !strings.ContainsRune(s, '%') {
		return s
	}
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}
