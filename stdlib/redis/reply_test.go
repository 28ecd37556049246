package redis

import (
	"errors"
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/imscript/imscript/internal/testutil"
	"github.com/imscript/imscript/script"
)

type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

func TestReply(t *testing.T) {
	bin := string([]byte{0xff, 0, 'a'})
	cases := []struct {
		in   any
		want string
	}{
		{nil, "nil"},
		{"OK", `"OK"`},
		{bin, `bytes"\xff\x00a"`},
		{"héllo", `"héllo"`},
		{int64(-7), "-7"},
		{1.5, "1.5"},
		{true, "true"},
		{big.NewInt(42), "42"},
		{new(big.Int).Lsh(big.NewInt(1), 70), `"1180591620717411303424"`},
		{[]any{}, "[]"},
		{[]any{"a", nil, int64(1), []any{nil}}, `["a",object:null,1,[object:null]]`},
		{[]any{replyError("WRONGTYPE Operation against a key")}, `[{code="WRONGTYPE",err="WRONGTYPE Operation against a key"}]`},
		{map[any]any{"k": "v", int64(2): nil}, `{2=object:null,k="v"}`},
	}
	for _, c := range cases {
		if got := testutil.Describe(reply(c.in), true); got != c.want {
			t.Errorf("reply(%#v) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestArg(t *testing.T) {
	cases := []struct {
		in   script.Value
		want any
		ok   bool
	}{
		{"s", "s", true},
		{[]byte("b"), []byte("b"), true},
		{int64(5), "5", true},
		{5.0, "5", true},
		{-3.0, "-3", true},
		{1.5, "1.5", true},
		{1e300, "1e+300", true},
		{math.Inf(1), "+inf", true},
		{math.Inf(-1), "-inf", true},
		{math.NaN(), nil, false},
		{true, nil, false},
		{nil, nil, false},
		{script.List{}, nil, false},
	}
	for _, c := range cases {
		got, ok := arg(c.in)
		if ok != c.ok || testutil.Describe(got, true) != testutil.Describe(c.want, true) {
			t.Errorf("arg(%v) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestBlockFor(t *testing.T) {
	cases := []struct {
		cmd  []script.Value
		d    time.Duration
		ok   bool
		name string
	}{
		{[]script.Value{"GET", "k"}, 0, false, "GET"},
		{[]script.Value{"blpop", "a", "b", 2.5}, 2500 * time.Millisecond, true, "BLPOP"},
		{[]script.Value{"BRPOP", "a", 0}, 0, true, "BRPOP"},
		{[]script.Value{"BLMOVE", "a", "b", "LEFT", "RIGHT", "1"}, time.Second, true, "BLMOVE"},
		{[]script.Value{"BZPOPMIN", "z", "0.1"}, 100 * time.Millisecond, true, "BZPOPMIN"},
		{[]script.Value{"BLMPOP", 3, 1, "a", "LEFT"}, 3 * time.Second, true, "BLMPOP"},
		{[]script.Value{"XREAD", "COUNT", 1, "BLOCK", 500, "STREAMS", "s", "$"}, 500 * time.Millisecond, true, "XREAD"},
		{[]script.Value{"XREAD", "STREAMS", "block", "$"}, 0, false, "XREAD with a stream named block"},
		{[]script.Value{"XREADGROUP", "GROUP", "g", "c", "BLOCK", 0, "STREAMS", "s", ">"}, 0, true, "XREADGROUP"},
		{[]script.Value{"WAIT", 1, 200}, 200 * time.Millisecond, true, "WAIT"},
		{[]script.Value{"BLPOP", "a", "soon"}, 0, false, "a bad timeout (Redis answers it)"},
	}
	for _, c := range cases {
		vals := make([]script.Value, len(c.cmd))
		for i, v := range c.cmd {
			if n, isInt := v.(int); isInt {
				v = int64(n)
			}
			vals[i] = v
		}
		d, ok := blockFor(readCommand("test", vals, 0))
		if d != c.d || ok != c.ok {
			t.Errorf("%s: blockFor = %v, %v; want %v, %v", c.name, d, ok, c.d, c.ok)
		}
	}
}

func TestFailureCodes(t *testing.T) {
	ctx := t.Context()
	if e := failure(ctx, "redis.call GET", replyError("NOSCRIPT No matching script"), time.Second); script.ErrorCode(e) != "NOSCRIPT" ||
		e.Error() != "redis.call GET: NOSCRIPT No matching script" {
		t.Errorf("a reply error: %v [%v]", e, script.ErrorCode(e))
	}
	if e := failure(ctx, "redis.call GET", errClosed, 0); script.ErrorCode(e) != "CLOSED" {
		t.Errorf("closed: %v [%v]", e, script.ErrorCode(e))
	}
	if e := failure(ctx, "redis.call GET", errors.New("something"), 0); script.ErrorCode(e) != nil || e.Error() != "redis.call GET: something" {
		t.Errorf("another error: %v [%v]", e, script.ErrorCode(e))
	}
}
