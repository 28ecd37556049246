package lua

import (
	"errors"
	"fmt"
	"strings"

	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"
)

// Syntax errors a newcomer can act on. gopher-lua's parser (goyacc) says
// only "syntax error" and the token it stopped at, which is often on the
// line after the mistake (a missing 'then' is found at the next line's
// first word). When it fails, diagnose parses the source again with a
// small recursive-descent checker of the same grammar (Lua 5.1 with goto
// and labels, as gopher-lua reads it) over gopher-lua's own scanner, which
// knows what it expected there, and says so:
//
//	bad.lua:2: syntax error: expected 'then' after '1' (found 'print' on line 3)
//	bad.lua:5: syntax error: expected an expression near '='
//	bad.lua:1: syntax error: 'function' is never closed: expected 'end' before the end of the file
//
// When the token found is on a later line than the last good one, the
// message names the last good token's line: that is where something is
// missing. The checker's verdict is used only when it stops at the very
// token gopher-lua stopped at; otherwise the plain message stays.

// synError is the checker's first error.
type synError struct {
	line int    // the line the message names
	msg  string // after "syntax error: "
	tok  ast.Token
}

type checker struct {
	sc        *parse.Scanner
	lx        parse.Lexer
	tok, prev ast.Token
	ahead     *ast.Token
	aheadErr  error
	lastStat  bool   // the block just parsed ended with return or break
	lastWord  string // which of the two
	lines     []string
	// suspect is the first 'end' indented less than the block it closes:
	// where an 'end' may be missing when a block is left open at the end.
	suspect *suspectEnd
}

type suspectEnd struct {
	line, openLine int
	opener         string
}

// indent is the width of line n's leading blanks (a tab counts 4).
func (c *checker) indent(n int) int {
	if n < 1 || n > len(c.lines) {
		return 0
	}
	w := 0
	for _, r := range c.lines[n-1] {
		switch r {
		case ' ':
			w++
		case '\t':
			w += 4
		default:
			return w
		}
	}
	return w
}

// diagnose re-parses src; ok is false when the checker finds no error or
// stops elsewhere than at token tok on line where gopher-lua did (line is
// parse.EOF at the end of the file).
func diagnose(src, name string, line int, tok string) (synError, bool) {
	se := checkSyntax(src, name)
	switch {
	case se == nil:
		return synError{}, false
	case se.tok.Type == lexError:
		return *se, se.tok.Pos.Line == line && se.tok.Str == tok
	case se.tok.Type == parse.EOF:
		return *se, line == parse.EOF
	}
	return *se, se.tok.Pos.Line == line && se.tok.Str == tok
}

// lexError is the type of a token the scanner refused.
const lexError = -2

// checkSyntax is the checker's first error in src, nil when it finds none.
func checkSyntax(src, name string) (e *synError) {
	c := &checker{sc: parse.NewScanner(strings.NewReader(src), name), lines: strings.Split(src, "\n")}
	defer func() {
		if r := recover(); r != nil {
			se, ok := r.(synError)
			if !ok {
				panic(r)
			}
			e = &se
		}
	}()
	c.next()
	c.block()
	if c.tok.Type != parse.EOF {
		switch t := c.tok.Type; {
		case t == ')' || t == ']' || t == '}':
			c.failAt(c.tok.Pos.Line, c.tok, fmt.Sprintf("unexpected %s (expected a statement)", show(c.tok)))
		case t == parse.TEnd:
			c.failAt(c.tok.Pos.Line, c.tok, "'end' without a block to close (one 'end' too many?)")
		case closer(c.tok.Type):
			c.failAt(c.tok.Pos.Line, c.tok, fmt.Sprintf("%s outside the block it belongs to", show(c.tok)))
		}
		c.expected("the end of the file", "", 0)
	}
	return nil
}

// next moves to the next token; a lexical error is reported at once.
func (c *checker) next() {
	c.prev = c.tok
	var tok ast.Token
	var err error
	if c.ahead != nil {
		tok, err = *c.ahead, c.aheadErr
		c.ahead = nil
	} else {
		tok, err = c.sc.Scan(&c.lx)
	}
	c.tok = tok
	if err != nil {
		pe := &parse.Error{Pos: tok.Pos, Message: err.Error()}
		errors.As(err, &pe)
		msg := pe.Message
		if msg != "" {
			msg = strings.ToLower(msg[:1]) + msg[1:]
		}
		msg += " near '" + pe.Token + "'"
		switch strings.TrimSpace(pe.Token) {
		case "!":
			msg += " (Lua writes ~= for 'not equal' and 'not' for negation)"
		case "&", "|":
			msg += " (Lua writes 'and' and 'or')"
		}
		line := tok.Pos.Line // the token's start (a string's first line)
		if line == parse.EOF {
			line = c.prev.Pos.Line
		}
		panic(synError{line: line, msg: msg, tok: ast.Token{Type: lexError, Pos: pe.Pos, Str: pe.Token}})
	}
}

// peek is the token after the current one.
func (c *checker) peek() ast.Token {
	if c.ahead == nil {
		tok, err := c.sc.Scan(&c.lx)
		c.ahead, c.aheadErr = &tok, err
	}
	return *c.ahead
}

func closer(t int) bool {
	return t == parse.TEnd || t == parse.TElse || t == parse.TElseIf || t == parse.TUntil
}

func blockFollow(t int) bool { return t == parse.EOF || closer(t) }

// show is how a message quotes a token.
func show(t ast.Token) string {
	switch t.Type {
	case parse.EOF:
		return "the end of the file"
	case parse.TString:
		s := t.Str
		if len(s) > 20 {
			s = s[:20] + "..."
		}
		return fmt.Sprintf("the string %q", s)
	}
	if t.Str == "" {
		return "'" + t.Name + "'"
	}
	return "'" + t.Str + "'"
}

func (c *checker) failAt(line int, tok ast.Token, msg string) {
	panic(synError{line: line, msg: msg, tok: tok})
}

// expected reports that what was expected at the current token; opener
// and its line, when given, is the construct the token would close.
func (c *checker) expected(what, opener string, openLine int) {
	tok := c.tok
	to := ""
	if opener != "" && openLine != tok.Pos.Line {
		to = fmt.Sprintf(" (to close %s at line %d)", opener, openLine)
	}
	hint := ""
	if t := tok.Type; c.lastStat && opener != "" && !blockFollow(t) && t != ')' && t != ']' && t != '}' {
		hint = fmt.Sprintf(" ('%s' must be the last statement of its block)", c.prevStatWord())
	}
	if s := c.suspect; s != nil && what == "'end'" && opener != "" && s.openLine > openLine {
		hint += fmt.Sprintf(" (is an 'end' missing before line %d? The 'end' there closes the %s at line %d but is indented less)", s.line, s.opener, s.openLine)
	}
	switch {
	case tok.Type == parse.EOF && opener != "":
		c.failAt(openLine, tok, fmt.Sprintf("%s is never closed: expected %s before the end of the file%s", opener, what, hint))
	case c.prev.Str != "" && tok.Type != parse.EOF && tok.Pos.Line > c.prev.Pos.Line || tok.Type == parse.EOF && c.prev.Str != "":
		found := show(tok)
		if tok.Type != parse.EOF {
			found += fmt.Sprintf(" on line %d", tok.Pos.Line)
		}
		c.failAt(c.prev.Pos.Line, tok, fmt.Sprintf("expected %s%s after %s (found %s)%s", what, to, show(c.prev), found, hint))
	default:
		c.failAt(tok.Pos.Line, tok, fmt.Sprintf("expected %s%s near %s%s", what, to, show(tok), hint))
	}
}

// prevStatWord is "return" or "break", whichever ended the last block.
func (c *checker) prevStatWord() string { return c.lastWord }

func (c *checker) check(t int, what string) {
	if c.tok.Type != t {
		c.expected(what, "", 0)
	}
	c.next()
}

// match is check for the token that closes opener (at line).
func (c *checker) match(t int, what, opener string, line int) {
	if c.tok.Type != t {
		c.expected(what, opener, line)
	}
	if t == parse.TEnd && c.suspect == nil && c.prev.Pos.Line < c.tok.Pos.Line && c.indent(c.tok.Pos.Line) < c.indent(line) {
		c.suspect = &suspectEnd{line: c.tok.Pos.Line, openLine: line, opener: opener}
	}
	c.next()
}

func (c *checker) name() {
	if c.tok.Type != parse.TIdent {
		c.expected("a name", "", 0)
	}
	c.next()
}

// block parses statements up to a token that ends a block.
func (c *checker) block() {
	c.lastStat = false
	c.lastWord = ""
	for !blockFollow(c.tok.Type) {
		if t := c.tok.Type; t == ')' || t == ']' || t == '}' {
			// No statement starts so: the block is left open before
			// it (the caller says which).
			return
		}
		if c.tok.Type == parse.TReturn || c.tok.Type == parse.TBreak {
			c.lastWord = c.tok.Str
			if c.tok.Type == parse.TReturn {
				c.next()
				if !blockFollow(c.tok.Type) && c.tok.Type != ';' {
					c.exprList()
				}
			} else {
				c.next()
			}
			if c.tok.Type == ';' {
				c.next()
			}
			c.lastStat = true
			return
		}
		c.statement()
		c.lastStat = false
	}
}

func (c *checker) statement() {
	line := c.tok.Pos.Line
	switch c.tok.Type {
	case ';':
		c.next()
	case parse.TIf:
		c.next()
		c.expr()
		c.check(parse.TThen, "'then'")
		c.block()
		for c.tok.Type == parse.TElseIf {
			c.next()
			c.expr()
			c.check(parse.TThen, "'then'")
			c.block()
		}
		if c.tok.Type == parse.TElse {
			c.next()
			c.block()
		}
		c.match(parse.TEnd, "'end'", "'if'", line)
	case parse.TWhile:
		c.next()
		c.expr()
		c.check(parse.TDo, "'do'")
		c.block()
		c.match(parse.TEnd, "'end'", "'while'", line)
	case parse.TDo:
		c.next()
		c.block()
		c.match(parse.TEnd, "'end'", "'do'", line)
	case parse.TFor:
		c.next()
		c.name()
		switch c.tok.Type {
		case '=':
			c.next()
			c.expr()
			c.check(',', "','")
			c.expr()
			if c.tok.Type == ',' {
				c.next()
				c.expr()
			}
		case ',', parse.TIn:
			for c.tok.Type == ',' {
				c.next()
				c.name()
			}
			c.check(parse.TIn, "'in'")
			c.exprList()
		default:
			c.expected("'=' or 'in'", "", 0)
		}
		c.check(parse.TDo, "'do'")
		c.block()
		c.match(parse.TEnd, "'end'", "'for'", line)
	case parse.TRepeat:
		c.next()
		c.block()
		c.match(parse.TUntil, "'until'", "'repeat'", line)
		c.expr()
	case parse.TFunction:
		c.next()
		c.name()
		for c.tok.Type == '.' {
			c.next()
			c.name()
		}
		if c.tok.Type == ':' {
			c.next()
			c.name()
		}
		c.funcBody(line)
	case parse.TLocal:
		c.next()
		if c.tok.Type == parse.TFunction {
			c.next()
			c.name()
			c.funcBody(line)
			return
		}
		c.name()
		for c.tok.Type == ',' {
			c.next()
			c.name()
		}
		if c.tok.Type == '=' {
			c.next()
			c.exprList()
		}
	case parse.T2Colon:
		c.next()
		c.name()
		c.check(parse.T2Colon, "'::'")
	case parse.TGoto:
		c.next()
		c.name()
	default:
		c.exprStat()
	}
}

// What a prefix expression ends as.
const (
	expVar   = iota // a name, t.k, t[k]: assignable
	expCall         // f(...), o:m(...): a statement
	expParen        // (e): neither
)

// exprStat is an assignment or a call.
func (c *checker) exprStat() {
	before, first := c.prev, c.tok
	if first.Type != parse.TIdent && first.Type != '(' {
		c.failAt(first.Pos.Line, first, fmt.Sprintf("unexpected %s (expected a statement)", show(first)))
	}
	kind := c.suffixedExp()
	if c.tok.Type == '=' || c.tok.Type == ',' {
		if kind != expVar {
			c.failAt(first.Pos.Line, c.tok, fmt.Sprintf("cannot assign to the expression starting with %s", show(first)))
		}
		for c.tok.Type == ',' {
			c.next()
			if c.suffixedExp() != expVar {
				c.expected("a variable", "", 0)
			}
		}
		c.check('=', "'='")
		c.exprList()
		return
	}
	switch kind {
	case expCall:
		return
	case expParen:
		msg := "an expression in parentheses is not a statement"
		if before.Type == parse.TIdent && before.Pos.Line == first.Pos.Line {
			msg = fmt.Sprintf("%s after %s starts a new statement, not a call (a missing 'function' before %s?)", show(first), show(before), show(before))
		}
		c.failAt(first.Pos.Line, c.tok, msg)
	}
	if _, _, op := binaryPrio(c.tok.Type); op && c.tok.Str != "" && c.peek().Type == '=' && c.peek().Pos.Line == c.tok.Pos.Line {
		c.failAt(c.tok.Pos.Line, c.tok, fmt.Sprintf("Lua has no '%s=': write x = x %s y", c.tok.Str, c.tok.Str))
	}
	if first.Type == parse.TIdent && first.Str == "continue" && c.prev.Pos == first.Pos {
		c.failAt(first.Pos.Line, c.tok, "Lua has no 'continue': jump to a label at the loop's end (goto continue ... ::continue::)")
	}
	c.expected("'=' or a call", "", 0)
}

// suffixedExp parses a prefix expression and says what it ends as.
func (c *checker) suffixedExp() (kind int) {
	line := c.tok.Pos.Line
	switch c.tok.Type {
	case parse.TIdent:
		c.next()
		kind = expVar
	case '(':
		c.next()
		c.expr()
		c.match(')', "')'", "'('", line)
		kind = expParen
	default:
		c.expected("an expression", "", 0)
	}
	for {
		switch c.tok.Type {
		case '.':
			c.next()
			c.name()
			kind = expVar
		case '[':
			l := c.tok.Pos.Line
			c.next()
			c.expr()
			c.match(']', "']'", "'['", l)
			kind = expVar
		case ':':
			c.next()
			c.name()
			c.args()
			kind = expCall
		case '(', parse.TString, '{':
			c.args()
			kind = expCall
		default:
			return kind
		}
	}
}

func (c *checker) args() {
	line := c.tok.Pos.Line
	switch c.tok.Type {
	case parse.TString:
		c.next()
	case '{':
		c.table()
	case '(':
		c.next()
		if c.tok.Type != ')' {
			c.exprList()
		}
		c.match(')', "')'", "'('", line)
	default:
		c.expected("function arguments", "", 0)
	}
}

func (c *checker) funcBody(line int) {
	c.check('(', "'('")
	if c.tok.Type != ')' {
		for {
			if c.tok.Type == parse.T3Comma {
				c.next()
				break
			}
			c.name()
			if c.tok.Type != ',' {
				break
			}
			c.next()
		}
	}
	c.check(')', "')'")
	c.block()
	c.match(parse.TEnd, "'end'", "'function'", line)
}

func (c *checker) table() {
	line := c.tok.Pos.Line
	c.next() // '{'
	for c.tok.Type != '}' {
		switch {
		case c.tok.Type == parse.TIdent && c.peek().Type == '=':
			c.next()
			c.next()
			c.expr()
		case c.tok.Type == '[':
			l := c.tok.Pos.Line
			c.next()
			c.expr()
			c.match(']', "']'", "'['", l)
			c.check('=', "'='")
			c.expr()
		default:
			c.expr()
		}
		if c.tok.Type != ',' && c.tok.Type != ';' {
			break
		}
		c.next()
	}
	c.match('}', "',' or '}'", "'{'", line)
}

func (c *checker) exprList() {
	c.expr()
	for c.tok.Type == ',' {
		c.next()
		c.expr()
	}
}

func (c *checker) expr() { c.subExpr(0) }

// binaryPrio is Lua 5.1's operator priorities (left, right).
func binaryPrio(t int) (int, int, bool) {
	switch t {
	case parse.TOr:
		return 1, 1, true
	case parse.TAnd:
		return 2, 2, true
	case '<', '>', parse.TLte, parse.TGte, parse.TNeq, parse.TEqeq:
		return 3, 3, true
	case parse.T2Comma:
		return 5, 4, true
	case '+', '-':
		return 6, 6, true
	case '*', '/', '%':
		return 7, 7, true
	case '^':
		return 10, 9, true
	}
	return 0, 0, false
}

const unaryPrio = 8

func (c *checker) subExpr(limit int) {
	switch c.tok.Type {
	case parse.TNot, '-', '#':
		c.next()
		c.subExpr(unaryPrio)
	default:
		c.simpleExp()
	}
	for {
		left, right, ok := binaryPrio(c.tok.Type)
		if !ok || left <= limit {
			return
		}
		op := c.tok
		c.next()
		if c.tok.Type == '=' && c.tok.Pos.Line == op.Pos.Line && op.Str != "" {
			c.failAt(op.Pos.Line, c.tok, fmt.Sprintf("Lua has no '%s=': write x = x %s y", op.Str, op.Str))
		}
		c.subExpr(right)
	}
}

func (c *checker) simpleExp() {
	switch c.tok.Type {
	case parse.TNumber, parse.TString, parse.TNil, parse.TTrue, parse.TFalse, parse.T3Comma:
		c.next()
	case '{':
		c.table()
	case parse.TFunction:
		line := c.tok.Pos.Line
		c.next()
		c.funcBody(line)
	case '[':
		c.failAt(c.tok.Pos.Line, c.tok, "expected an expression near '[' (Lua writes a list as {1, 2})")
	default:
		c.suffixedExp()
	}
}
