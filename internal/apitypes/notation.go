package apitypes

import (
	"fmt"
	"strings"
)

// The type notation of script/api.go, parsed.

type kind int

const (
	kName   kind = iota // a primitive, a class or a record
	kLit                // "text"
	kList               // T[]
	kOpt                // T?
	kUnion              // A|B
	kRecord             // {a: T, b?: U}
	kMap                // {[string]: T}
	kFunc               // fun(a: T): R
)

type typ struct {
	kind   kind
	name   string  // kName; kLit: the literal with its quotes
	elems  []*typ  // kList, kOpt, kMap: one; kUnion: the members
	params []param // kRecord: its fields; kFunc: its parameters
	rets   []*typ  // kFunc
}

type param struct {
	name   string
	opt    bool
	vararg bool
	t      *typ
}

var primitives = map[string]bool{
	"any": true, "nil": true, "boolean": true, "integer": true, "number": true,
	"string": true, "bytes": true, "table": true, "function": true, "false": true, "true": true,
}

type parser struct {
	s   string
	pos int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%q at %d: %s", p.s, p.pos, fmt.Sprintf(format, args...))
}

func (p *parser) skip() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
}

func (p *parser) eat(tok string) bool {
	p.skip()
	if strings.HasPrefix(p.s[p.pos:], tok) {
		p.pos += len(tok)
		return true
	}
	return false
}

func (p *parser) ident() string {
	p.skip()
	start := p.pos
	for p.pos < len(p.s) {
		ch := p.s[p.pos]
		if ch == '_' || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || p.pos > start && ch >= '0' && ch <= '9' {
			p.pos++
			continue
		}
		break
	}
	return p.s[start:p.pos]
}

func (p *parser) done() error {
	p.skip()
	if p.pos != len(p.s) {
		return p.errorf("unexpected %q", p.s[p.pos:])
	}
	return nil
}

// parseType parses a whole type.
func parseType(s string) (*typ, error) {
	p := &parser{s: s}
	t, err := p.union()
	if err != nil {
		return nil, err
	}
	return t, p.done()
}

// parseParams parses a parameter list ("a: T, b?: U, ...: any").
func parseParams(s string) ([]param, error) {
	p := &parser{s: s}
	p.skip()
	if p.pos == len(s) {
		return nil, nil
	}
	ps, err := p.params(")")
	if err != nil {
		return nil, err
	}
	return ps, p.done()
}

// parseReturns parses a list of types ("integer, string?"); async says
// whether it started with "async".
func parseReturns(s string) (rets []*typ, async bool, err error) {
	p := &parser{s: s}
	p.skip()
	if p.pos == len(s) {
		return nil, false, nil
	}
	if strings.HasPrefix(s[p.pos:], "async ") {
		async = true
		p.pos += len("async ")
	}
	rets, err = p.types()
	if err != nil {
		return nil, false, err
	}
	return rets, async, p.done()
}

func (p *parser) types() ([]*typ, error) {
	var out []*typ
	for {
		t, err := p.union()
		if err != nil {
			return nil, err
		}
		out = append(out, t)
		if !p.eat(",") {
			return out, nil
		}
	}
}

// params parses parameters up to (not including) end.
func (p *parser) params(end string) ([]param, error) {
	var out []param
	p.skip()
	if strings.HasPrefix(p.s[p.pos:], end) {
		return nil, nil
	}
	for {
		var q param
		if p.eat("...") {
			q.vararg, q.name = true, "..."
		} else {
			q.name = p.ident()
			if q.name == "" {
				return nil, p.errorf("a parameter name expected")
			}
			q.opt = p.eat("?")
		}
		if !p.eat(":") {
			return nil, p.errorf("':' expected after %s", q.name)
		}
		t, err := p.union()
		if err != nil {
			return nil, err
		}
		q.t = t
		out = append(out, q)
		if !p.eat(",") {
			return out, nil
		}
	}
}

func (p *parser) union() (*typ, error) {
	var members []*typ
	for {
		t, err := p.postfix()
		if err != nil {
			return nil, err
		}
		members = append(members, t)
		if !p.eat("|") {
			break
		}
	}
	if len(members) == 1 {
		return members[0], nil
	}
	return &typ{kind: kUnion, elems: members}, nil
}

func (p *parser) postfix() (*typ, error) {
	t, err := p.primary()
	if err != nil {
		return nil, err
	}
	for {
		switch {
		case p.eat("[]"):
			t = &typ{kind: kList, elems: []*typ{t}}
		case p.eat("?"):
			t = &typ{kind: kOpt, elems: []*typ{t}}
		default:
			return t, nil
		}
	}
}

func (p *parser) primary() (*typ, error) {
	p.skip()
	if p.pos == len(p.s) {
		return nil, p.errorf("a type expected")
	}
	switch ch := p.s[p.pos]; {
	case ch == '"':
		end := strings.IndexByte(p.s[p.pos+1:], '"')
		if end < 0 {
			return nil, p.errorf("unterminated string")
		}
		lit := p.s[p.pos : p.pos+end+2]
		p.pos += end + 2
		return &typ{kind: kLit, name: lit}, nil
	case ch == '(':
		p.pos++
		t, err := p.union()
		if err != nil {
			return nil, err
		}
		if !p.eat(")") {
			return nil, p.errorf("')' expected")
		}
		return t, nil
	case ch == '{':
		p.pos++
		if p.eat("[") {
			if k := p.ident(); k != "string" {
				return nil, p.errorf("map keys are strings")
			}
			if !p.eat("]") || !p.eat(":") {
				return nil, p.errorf("{[string]: T} expected")
			}
			v, err := p.union()
			if err != nil {
				return nil, err
			}
			if !p.eat("}") {
				return nil, p.errorf("'}' expected")
			}
			return &typ{kind: kMap, elems: []*typ{v}}, nil
		}
		fields, err := p.params("}")
		if err != nil {
			return nil, err
		}
		if !p.eat("}") {
			return nil, p.errorf("'}' expected")
		}
		return &typ{kind: kRecord, params: fields}, nil
	}
	name := p.ident()
	if name == "" {
		return nil, p.errorf("a type expected")
	}
	if name == "fun" && p.eat("(") {
		ps, err := p.params(")")
		if err != nil {
			return nil, err
		}
		if !p.eat(")") {
			return nil, p.errorf("')' expected")
		}
		t := &typ{kind: kFunc, params: ps}
		if p.eat(":") {
			r, err := p.union()
			if err != nil {
				return nil, err
			}
			t.rets = []*typ{r}
		}
		return t, nil
	}
	return &typ{kind: kName, name: name}, nil
}

// names calls fn with every kName in t.
func (t *typ) names(fn func(string)) {
	if t == nil {
		return
	}
	if t.kind == kName {
		fn(t.name)
	}
	for _, e := range t.elems {
		e.names(fn)
	}
	for _, q := range t.params {
		q.t.names(fn)
	}
	for _, r := range t.rets {
		r.names(fn)
	}
}
