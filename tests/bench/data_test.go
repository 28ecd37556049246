package main

import (
	"bufio"
	"database/sql"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func keysOf(ks []serverKind) []string {
	var keys []string
	for _, k := range ks {
		keys = append(keys, k.key)
	}
	return keys
}

func TestDataSelection(t *testing.T) {
	o, err := parseArgs([]string{"-http-load", "go"}, flag.ContinueOnError)
	if err != nil {
		t.Fatal(err)
	}
	for _, sec := range []string{secSQLite, secRedis} {
		if !o.has(sec) {
			t.Errorf("the default run has no %s section: %v", sec, o.sections)
		}
		if got := keysOf(o.selected(sec)); !slices.Equal(got, []string{"go", "lua", "js", "node"}) {
			t.Errorf("%s: default rows %v", sec, got)
		}
	}

	o, err = parseArgs([]string{"-bench", "sqlite,redis", "-rows", "lua,node", "-http-load", "go"}, flag.ContinueOnError)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.sections, []string{secSQLite, secRedis}) {
		t.Errorf("sections %v", o.sections)
	}
	if got := keysOf(o.selected(secSQLite)); !slices.Equal(got, []string{"lua", "node"}) {
		t.Errorf("sqlite rows %v", got)
	}

	// With a -baseline binary that lacks the modules (the probe script
	// fails) the data sections have no baseline rows; the other sections
	// keep theirs.
	dir := t.TempDir()
	old := filepath.Join(dir, "imscript-old")
	if err := os.WriteFile(old, []byte("#!/bin/sh\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	o, err = parseArgs([]string{"-baseline", old, "-bench", "http,sqlite,redis", "-http-load", "go"}, flag.ContinueOnError)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(o.rows, ","); got != "gnet,go,lua,lua-base,js,js-base,node,nginx,centrifugo" {
		t.Errorf("rows %s", got)
	}
	if got := keysOf(o.selected(secHTTP)); !slices.Equal(got, []string{"gnet", "go", "lua", "lua-base", "js", "js-base", "node", "nginx"}) {
		t.Errorf("http rows %v", got)
	}
	for _, sec := range []string{secSQLite, secRedis} {
		if got := keysOf(o.selected(sec)); !slices.Equal(got, []string{"go", "lua", "js", "node"}) {
			t.Errorf("%s rows with -baseline: %v", sec, got)
		}
		if got := keysOf(o.noBaseline(sec)); !slices.Equal(got, []string{"lua", "js"}) {
			t.Errorf("%s: rows without a baseline %v", sec, got)
		}
		if len(basePairs(o, sec)) != 0 {
			t.Errorf("%s: baseline pairs %v", sec, basePairs(o, sec))
		}
	}
	if len(o.noBaseline(secHTTP)) != 0 {
		t.Errorf("http: rows without a baseline %v", keysOf(o.noBaseline(secHTTP)))
	}
	// Only baseline rows asked for: the data sections run none.
	o, err = parseArgs([]string{"-baseline", old, "-bench", "sqlite", "-rows", "lua-base", "-http-load", "go"}, flag.ContinueOnError)
	if err != nil {
		t.Fatal(err)
	}
	if got := o.selected(secSQLite); len(got) != 0 {
		t.Errorf("sqlite with -rows lua-base: %v", keysOf(got))
	}

	// A baseline binary that has them (the probe ends with 0) gets its rows.
	has := filepath.Join(dir, "imscript-has")
	if err := os.WriteFile(has, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	o, err = parseArgs([]string{"-baseline", has, "-bench", "sqlite,redis", "-http-load", "go"}, flag.ContinueOnError)
	if err != nil {
		t.Fatal(err)
	}
	for _, sec := range []string{secSQLite, secRedis} {
		if got := keysOf(o.selected(sec)); !slices.Equal(got, []string{"go", "lua", "lua-base", "js", "js-base", "node"}) {
			t.Errorf("%s rows with a baseline that has the module: %v", sec, got)
		}
		if len(o.noBaseline(sec)) != 0 || len(basePairs(o, sec)) != 2 {
			t.Errorf("%s: without a baseline %v, pairs %d", sec, keysOf(o.noBaseline(sec)), len(basePairs(o, sec)))
		}
	}
}

func TestDataFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string // error prefix, or "" for none
	}{
		{[]string{"-pool", "0"}, "-repeat, -room-repeat, -conns, -size and -pool must be at least 1"},
		{[]string{"-bench", "sqlite,nosuch"}, `-bench: unknown section "nosuch"`},
		{[]string{"-bench", "redis", "-pool", "8"}, ""},
	} {
		_, err := parseArgs(append(c.args, "-http-load", "go"), flag.ContinueOnError)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v", c.args, err)
		case c.want != "" && (err == nil || !strings.HasPrefix(err.Error(), c.want)):
			t.Errorf("%q: error %v, want %s", c.args, err, c.want)
		}
	}
	for _, name := range []string{"-node-dir", "-ws-dir"} {
		o, err := parseArgs([]string{name, "/tmp/n", "-http-load", "go"}, flag.ContinueOnError)
		if err != nil || o.nodeDir != "/tmp/n" {
			t.Errorf("%s: nodeDir %q, %v", name, o.nodeDir, err)
		}
	}
	if _, err := exec.LookPath("wrk"); err == nil {
		// wrk takes whole seconds: the data sections are wrk's too.
		_, err := parseArgs([]string{"-bench", "sqlite", "-duration", "1500ms", "-http-load", "wrk"}, flag.ContinueOnError)
		if err == nil || !strings.Contains(err.Error(), "whole seconds") {
			t.Errorf("-bench sqlite -duration 1500ms under wrk: %v", err)
		}
	}
}

func TestDataWrkArgs(t *testing.T) {
	o := &options{threads: 2, conns: 100}
	got := strings.Join(wrkArgs(o, "http://127.0.0.1:1/", 3*time.Second, true, workOf(secSQLite, "/t/wrk-get.lua")), " ")
	if want := "-t2 -c100 -d3s --latency -s /t/wrk-get.lua http://127.0.0.1:1/ -- /user?id= 10000"; got != want {
		t.Errorf("sqlite: %s, want %s", got, want)
	}
	got = strings.Join(wrkArgs(o, "http://127.0.0.1:1/", time.Second, false, workOf(secRedis, "/t/wrk-get.lua")), " ")
	if want := "-t2 -c100 -d1s -s /t/wrk-get.lua http://127.0.0.1:1/ -- /get?k=bench: 1000"; got != want {
		t.Errorf("redis: %s, want %s", got, want)
	}
	got = strings.Join(wrkArgs(o, "http://127.0.0.1:1/", time.Second, false, workOf(secHTTP, "")), " ")
	if want := "-t2 -c100 -d1s http://127.0.0.1:1/"; got != want {
		t.Errorf("http: %s, want %s", got, want)
	}
}

// Every load thread or connection goes through every id, each from its
// own start.
func TestGetOrder(t *testing.T) {
	for _, n := range []int{sqliteRows, redisKeys} {
		for th := 0; th < 3; th++ {
			seen := make([]bool, n+1)
			for j := 0; j < n; j++ {
				id := getOrder(j, th, n)
				if id < 1 || id > n || seen[id] {
					t.Fatalf("n %d thread %d: request %d asks for id %d again or out of range", n, th, j, id)
				}
				seen[id] = true
			}
			if getOrder(n, th, n) != getOrder(0, th, n) {
				t.Errorf("n %d thread %d: the order does not repeat after %d", n, th, n)
			}
		}
		if getOrder(0, 0, n) == getOrder(0, 1, n) {
			t.Errorf("n %d: threads 0 and 1 start at the same id", n)
		}
	}
}

func TestCheckUserJSON(t *testing.T) {
	for _, c := range []struct {
		body string
		ok   bool
	}{
		{`{"id":7,"name":"User 7","email":"user7@example.com","created":1700000259}`, true},
		{`{"created":1700000259,"email":"user7@example.com","id":7,"name":"User 7"}`, true},
		{"{ \"id\": 7, \"name\": \"User 7\", \"email\": \"user7@example.com\", \"created\": 1700000259 }\n", true},
		{`{"id":7.0,"name":"User 7","email":"user7@example.com","created":1700000259}`, false},
		{`{"id":"7","name":"User 7","email":"user7@example.com","created":1700000259}`, false},
		{`{"id":8,"name":"User 7","email":"user7@example.com","created":1700000259}`, false},
		{`{"id":7,"name":"User 7","email":"user7@example.com"}`, false},
		{`{"id":7,"name":"User 7","email":"user7@example.com","created":1700000259,"x":1}`, false},
		{`{"id":7,"name":"User 7","email":"user7@example.com","created":1700000259}{}`, false},
		{`[7]`, false},
	} {
		if err := checkUserJSON([]byte(c.body), 7); (err == nil) != c.ok {
			t.Errorf("%s: %v", c.body, err)
		}
	}
}

func TestParseHTTPHolding(t *testing.T) {
	c := &rrConn{want: []byte(`"user7@example.com"`)}
	ok := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 31\r\n\r\n{\"id\":7,\"email\":\"user7@example.com\"}"
	ok = strings.Replace(ok, "31", strconv.Itoa(len(`{"id":7,"email":"user7@example.com"}`)), 1)
	for i := 0; i < len(ok); i++ {
		if n, err := parseHTTPHolding(c, []byte(ok[:i])); n != 0 || err != nil {
			t.Fatalf("prefix of %d bytes: n=%d err=%v", i, n, err)
		}
	}
	if n, err := parseHTTPHolding(c, []byte(ok)); n != len(ok) || err != nil {
		t.Fatalf("whole response: n=%d err=%v", n, err)
	}
	bad := strings.Replace(ok, "user7@", "user8@", 1)
	if _, err := parseHTTPHolding(c, []byte(bad)); err == nil {
		t.Error("accepted another row")
	}
	if _, err := parseHTTPHolding(c, []byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")); err == nil {
		t.Error("accepted a 404")
	}
}

// The Go generator's requests go through the ids as the wrk script's do.
func TestDataCycle(t *testing.T) {
	cyc := dataCycle(secRedis, "h")
	c := &rrConn{cyc: cyc, t: 1, j: -1}
	for j := 0; j < 3; j++ {
		c.advance()
		id := getOrder(j, 1, redisKeys)
		if want := "GET /get?k=bench:" + strconv.Itoa(id) + " HTTP/1.1\r\n"; !strings.HasPrefix(string(c.out), want) || string(c.want) != redisVal(id) {
			t.Fatalf("request %d: %q wanting %q; want %q and value %d", j, c.out, c.want, want, id)
		}
	}
	if got := string(dataCycle(secSQLite, "h").wants[41]); got != `"user42@example.com"` {
		t.Errorf("sqlite want %s", got)
	}
	if v := redisVal(3); len(v) != redisValue || v == redisVal(4) || !strings.HasPrefix(v, "value 3 of 1000 ") {
		t.Errorf("redisVal(3) = %q", v)
	}
}

// replyServer answers every request on a connection with reply(path).
func replyServer(t *testing.T, reply func(path string) string) netip.AddrPort {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					if _, err := conn.Write([]byte(reply(req.URL.RequestURI()))); err != nil {
						return
					}
				}
			}()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String())
}

func httpReply(ct, body string) string {
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s", ct, len(body), body)
}

func TestCheckGets(t *testing.T) {
	user := func(p string) string {
		id, _ := strconv.Atoi(strings.TrimPrefix(p, userPath))
		u := userOf(id)
		return httpReply("application/json; charset=utf-8", fmt.Sprintf(`{"created":%d,"email":%q,"id":%d,"name":%q}`, u.Created, u.Email, u.ID, u.Name))
	}
	value := func(p string) string {
		i, _ := strconv.Atoi(strings.TrimPrefix(p, redisPath))
		return httpReply("text/plain", redisVal(i))
	}
	for _, c := range []struct {
		name   string
		reply  func(string) string
		prefix string
		check  func(http1Head, []byte, int) error
		ok     bool
	}{
		{"user", user, userPath, checkUserReply, true},
		{"user as text", func(p string) string {
			return strings.Replace(user(p), "application/json; charset=utf-8", "text/plain", 1)
		}, userPath, checkUserReply, false},
		{"always row 1", func(string) string { return user(userPath + "1") }, userPath, checkUserReply, false},
		{"value", value, redisPath, checkRedisReply, true},
		{"short value", func(p string) string { return httpReply("text/plain", redisVal(1)[:99]) }, redisPath, checkRedisReply, false},
		{"404", func(string) string { return "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n" }, redisPath, checkRedisReply, false},
	} {
		addr := replyServer(t, c.reply)
		n := sqliteRows
		if c.prefix == redisPath {
			n = redisKeys
		}
		if err := checkGets(addr, c.prefix, checkIDs(n), c.check); (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestMakeSQLiteDB(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bench.db")
	if err := makeSQLiteDB(path, 50); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	var mode string
	var u userRow
	if err := db.QueryRow("SELECT count(*) FROM users").Scan(&n); err != nil || n != 50 {
		t.Fatalf("count %d, %v", n, err)
	}
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode %q, %v", mode, err)
	}
	if err := db.QueryRow("SELECT id, name, email, created FROM users WHERE id = ?", 42).Scan(&u.ID, &u.Name, &u.Email, &u.Created); err != nil || u != userOf(42) {
		t.Fatalf("row 42: %+v, %v", u, err)
	}
}

func TestStartRedis(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("no redis-server")
	}
	r, err := startRedis(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer r.stop()
	for _, i := range checkIDs(redisKeys) {
		if v, err := r.do("GET", redisKey(i)); err != nil || v != redisVal(i) {
			t.Errorf("GET %s: %q, %v", redisKey(i), v, err)
		}
	}
	if r.ver == "" {
		t.Error("no redis_version")
	}
	r.stop()
	if r.alive() {
		t.Error("redis-server still runs after stop")
	}
}

// wrk with the data sections' script asks for the ids in getOrder's order.
func TestWrkGetScript(t *testing.T) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("no wrk")
	}
	var mu sync.Mutex
	var paths []string
	addr := replyServer(t, func(p string) string {
		mu.Lock()
		if len(paths) < 100 {
			paths = append(paths, p)
		}
		mu.Unlock()
		return httpReply("text/plain", "x")
	})
	script := filepath.Join(t.TempDir(), wrkScriptName)
	if err := os.WriteFile(script, []byte(wrkGetScript), 0o644); err != nil {
		t.Fatal(err)
	}
	o := &options{threads: 1, conns: 1}
	w := workOf(secRedis, script)
	w.args[1] = "10" // ids 1..10
	out, err := exec.Command(wrk, wrkArgs(o, "http://"+addr.String()+"/", time.Second, false, w)...).CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(paths) < 20 {
		t.Fatalf("wrk sent %d requests\n%s", len(paths), out)
	}
	// wrk calls request() once more than it sends on thread 0 (to count
	// the requests of a pipeline: script_verify_request), so the requests
	// sent start at the second id of the order there.
	skip := 0
	for skip < 2 && paths[0] != redisPath+strconv.Itoa(getOrder(skip, 0, 10)) {
		skip++
	}
	for j, p := range paths {
		if want := redisPath + strconv.Itoa(getOrder(j+skip, 0, 10)); p != want {
			t.Fatalf("request %d: %s, want %s (the order from its request %d on)", j, p, want, skip)
		}
	}
}

func TestNodeKindEnv(t *testing.T) {
	b := &builds{root: "/repo", nodeDir: "/n"}
	k := nodeKind("node", "x", "node_x.js", "", npmBetterSQLite, npmIORedis)
	cmd := k.cmd(b, 1, "")
	if !slices.Contains(cmd.Env, "NODE_PATH=/n/better-sqlite3/node_modules:/n/ioredis/node_modules") {
		t.Errorf("env %q", cmd.Env)
	}
	if got, want := k.line(2), "npm install --no-save --prefix $W/better-sqlite3 better-sqlite3@12 && npm install --no-save --prefix $W/ioredis ioredis@6 && NODE_PATH=$W/better-sqlite3/node_modules:$W/ioredis/node_modules PORT=$P node tests/bench/node_x.js"; got != want {
		t.Errorf("line %s\nwant %s", got, want)
	}
	ws := nodeKind("node", "x", "node_ws.js", "echo", npmWS)
	if env := ws.cmd(b, 1, "").Env; !slices.Equal(env, []string{"MODE=echo", "NODE_PATH=/n/ws/node_modules"}) {
		t.Errorf("ws env %q", env)
	}
	if got := nodeKind("node", "x", "node_http.js", "").cmd(b, 1, "").Env; got != nil {
		t.Errorf("plain node env %q", got)
	}
}
