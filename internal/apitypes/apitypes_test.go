package apitypes

import (
	"strings"
	"testing"

	"github.com/imscript/imscript/script"
)

func TestNotation(t *testing.T) {
	cases := []struct{ in, ts, tsIn, lua string }{
		{"integer", "number", "number", "integer"},
		{"bytes", "Buffer", "Uint8Array", "string"},
		{"string|bytes", "string | Buffer", "string | Uint8Array", "string"},
		{"integer[]", "number[]", "number[]", "integer[]"},
		{"(string|integer)[]", "(string | number)[]", "(string | number)[]", "(string|integer)[]"},
		{"string?", "string | null", "string | null | undefined", "string?"},
		{`"text"|"binary"`, `"text" | "binary"`, `"text" | "binary"`, `"text"|"binary"`},
		{"{a: integer, b?: string}", "{ a: number; b?: string; }", "{ a: number; b?: string; }", "{ a: integer, b?: string }"},
		{"{[string]: bytes}", "{ [key: string]: Buffer }", "{ [key: string]: Uint8Array }", "table<string, string>"},
		{"fun(fd: integer, data: bytes): any", "(fd: number, data: Uint8Array) => any", "(fd: number, data: Buffer) => any", "fun(fd: integer, data: string): any"},
		{"Server", "Server", "Server", "imscript.Server"},
	}
	for _, c := range cases {
		typ, err := parseType(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if got := tsType(typ, out); got != c.ts {
			t.Errorf("%s: TS (result) %q, want %q", c.in, got, c.ts)
		}
		if got := tsType(typ, in); got != c.tsIn {
			t.Errorf("%s: TS (argument) %q, want %q", c.in, got, c.tsIn)
		}
		if got := luaType(typ); got != c.lua {
			t.Errorf("%s: Lua %q, want %q", c.in, got, c.lua)
		}
	}
	for _, bad := range []string{"", "integer|", "{a integer}", "fun(a: integer", `"open`, "integer integer", "{[integer]: string}"} {
		if _, err := parseType(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	ps, err := parseParams("fd: integer, code?: integer, ...: any")
	if err != nil || len(ps) != 3 || !ps[1].opt || !ps[2].vararg {
		t.Errorf("params: %+v, %v", ps, err)
	}
	rets, async, err := parseReturns("async string[]")
	if err != nil || !async || len(rets) != 1 || rets[0].kind != kList {
		t.Errorf("returns: %+v %v %v", rets, async, err)
	}
}

var thingType = &script.Type{
	Name: "thing",
	Doc:  "A thing.",
	Props: map[string]func(*script.Object) script.Value{
		"size": func(*script.Object) script.Value { return int64(1) },
	},
	Fields: map[string]script.Field{"size": {Type: "integer", Doc: "Its size."}},
	Events: []script.Event{
		{Name: "data", Args: "t: Thing, data: bytes", Doc: "Data came."},
		{Name: "close", Args: "t: Thing", Doc: "It closed."},
	},
}

func init() {
	thingType.Define(map[string]script.Method{
		"on":   {Fn: func(script.Call) {}, Args: "event: string, handler: function", Doc: "Sets a handler."},
		"send": {Fn: func(script.Call) {}, Args: "data: string|bytes, new?: integer", Returns: "boolean, string?", Doc: "Sends."},
		"read": {Fn: func(script.Call) {}, Args: "n: integer", Returns: "async bytes", Doc: "Reads."},
	})
}

func spec() Spec {
	return Spec{
		Version: "test",
		Core: &script.API{
			Doc: "The module.",
			Funcs: map[string]script.Method{
				"thing": {Fn: func(script.Call) {}, Args: "opts: ThingOptions", Returns: "Thing", Doc: "Makes a thing."},
			},
			Fields:  map[string]script.Field{"env": {Type: "{[string]: string}", Doc: "The environment."}},
			Types:   []*script.Type{thingType},
			Records: []script.Record{{Name: "ThingOptions", Doc: "Options.", Fields: map[string]script.Field{"size?": {Type: "integer", Doc: "How big."}}}},
		},
		Modules: []script.Module{{Name: "counter", API: &script.API{
			Doc:  "Counters.",
			Call: &script.Method{Args: "name: string", Returns: "integer", Doc: "A counter."},
		}}},
		LuaStd: map[string][]string{"table": {"unpack"}},
	}
}

func TestGenerate(t *testing.T) {
	files, err := spec().Generate()
	if err != nil {
		t.Fatal(err)
	}
	ts, lua, rc := files[TSFile], files[LuaFile], files[LuacheckrcFile]
	for _, want := range []string{
		"declare const imscript: imscript.Imscript;",
		"thing(opts: ThingOptions): Thing;",
		`on(event: "data", handler: (t: Thing, data: Buffer) => void): void;`,
		`on(event: "close", handler: (t: Thing) => void): void;`,
		"send(data: string | Uint8Array, new_?: number): boolean;",
		"read(n: number): Promise<Buffer>;",
		"readonly size: number;",
		"size?: number;",
		"readonly counter: CounterModule;",
		"(name: string): number;",
		`declare function require(name: "counter"): imscript.CounterModule;`,
	} {
		if !strings.Contains(ts, want) {
			t.Errorf("imscript.d.ts lacks %q:\n%s", want, ts)
		}
	}
	for _, want := range []string{
		"---@meta imscript",
		"---@class imscript.Thing",
		"---@field size integer Its size.",
		"---@param data string\n---@param new? integer\n---@return boolean\n---@return string?\nfunction Thing:send(data, new) end",
		"---@param n integer\n---@param callback? fun(result: string?, err: string?)\n---@return string?\n---@return string?\nfunction Thing:read(n, callback) end",
		`---@overload fun(self: imscript.Thing, event: "data", handler: fun(t: imscript.Thing, data: string))`,
		"---@class imscript.CounterModule\n---@overload fun(name: string): integer",
		"---@field counter imscript.CounterModule",
		"function imscript.thing(opts) end",
		"return imscript",
	} {
		if !strings.Contains(lua, want) {
			t.Errorf("imscript.lua lacks %q:\n%s", want, lua)
		}
	}
	for _, want := range []string{"counter = {},", "env = { other_fields = true },", "thing = {},", `table = { fields = { "unpack", } },`, `std = "lua51+imscript"`} {
		if !strings.Contains(rc, want) {
			t.Errorf(".luacheckrc lacks %q:\n%s", want, rc)
		}
	}
}

// TestCheck: what is left undescribed or described wrong is an error
// naming it, so the types cannot drift from the code.
func TestCheck(t *testing.T) {
	undescribed := &script.Type{Name: "bare", Props: map[string]func(*script.Object) script.Value{"x": nil}}
	undescribed.Methods = map[string]script.Function{"poke": func(script.Call) {}}
	s := spec()
	s.Core.Types = append(s.Core.Types, undescribed)
	s.Core.Funcs = map[string]script.Method{
		"bad":     {Fn: func(script.Call) {}, Args: "x integer", Doc: "Bad args."},
		"unknown": {Fn: func(script.Call) {}, Returns: "Nothing", Doc: "Unknown type."},
		"nodoc":   {Fn: func(script.Call) {}},
	}
	s.Modules = append(s.Modules, script.Module{Name: "bare"})
	err := s.Check()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"Bare:poke: method without a description",
		"Bare.x: property without a description",
		"imscript.bad: args:",
		"imscript.unknown: unknown type Nothing",
		"imscript.nodoc: no doc",
		"module bare: no API description",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := s.Generate(); err == nil {
		t.Error("Generate made files from a wrong description")
	}
}
