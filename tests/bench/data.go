package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "modernc.org/sqlite" // registers "sqlite"
)

// The data sections: HTTP GETs that each do one database call, SQLite
// (sqlite) or Redis (redis), under the http section's load generator.
// The bench makes the data before the section (a SQLite file in its temp
// dir; a throwaway redis-server filled with keys), and every server of the
// section reads the same data through the same environment:
//
//	BENCH_SQLITE  the SQLite file (absolute path)
//	BENCH_REDIS   redis://127.0.0.1:PORT/0
//	BENCH_POOL    the pool size (-pool): database/sql MaxOpenConns,
//	              imscript.sql max_open, go-redis PoolSize, imscript.redis pool_size

// Rows of the SQLite table and keys in Redis.
const (
	sqliteRows = 10000
	redisKeys  = 1000
	redisValue = 100 // bytes per value
)

// userPath and redisPath are the URL paths the load asks for, the id or
// key number appended (redisPath ends with redisKey's prefix).
const (
	userPath  = "/user?id="
	redisPath = "/get?k=bench:"
)

// wrkScriptName is the data sections' wrk script (wrkGetScript) in the
// bench's temp dir.
const wrkScriptName = "wrk-get.lua"

// userRow is row id of the table.
type userRow struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Email   string `json:"email"`
	Created int64  `json:"created"`
}

func userOf(id int) userRow {
	return userRow{ID: int64(id), Name: fmt.Sprintf("User %d", id), Email: fmt.Sprintf("user%d@example.com", id), Created: 1700000000 + int64(id)*37}
}

// makeSQLiteDB writes the table to a new file at path, in WAL mode (which
// SQLite keeps in the file), and checkpoints it.
func makeSQLiteDB(path string, rows int) error {
	_ = os.Remove(path)
	db, err := sql.Open("sqlite", path+"?_journal_mode=WAL&_synchronous=NORMAL")
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, created INTEGER NOT NULL)"); err != nil {
		return err
	}
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	st, err := tx.Prepare("INSERT INTO users (id, name, email, created) VALUES (?, ?, ?, ?)")
	if err != nil {
		_ = tx.Rollback()
		return err
	}
	for id := 1; id <= rows; id++ {
		u := userOf(id)
		if _, err := st.Exec(u.ID, u.Name, u.Email, u.Created); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if mode != "wal" {
		return fmt.Errorf("journal_mode %q, want wal", mode)
	}
	_, err = db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}

// redisKey and redisVal are key i (1-based) and its value: redisValue
// printable bytes, different for every key.
func redisKey(i int) string { return "bench:" + strconv.Itoa(i) }

func redisVal(i int) string {
	b := make([]byte, redisValue)
	head := fmt.Sprintf("value %d of %d ", i, redisKeys)
	for j := range b {
		if j < len(head) {
			b[j] = head[j]
		} else {
			b[j] = byte('a' + (i*7+j*13)%26)
		}
	}
	return string(b)
}

// setupData makes section sec's data before its first row: the SQLite
// file, or a redis-server filled with the keys; and the wrk script. It
// sets the servers' environment (and, for redis, the backend whose CPU the
// windows count apart); stop undoes it and stops redis-server.
func setupData(o *options, b *builds, sec string, m *machine) (stop func(), err error) {
	if err := os.WriteFile(filepath.Join(b.dir, wrkScriptName), []byte(wrkGetScript), 0o644); err != nil {
		return nil, err
	}
	pool := "BENCH_POOL=" + strconv.Itoa(o.pool)
	switch sec {
	case secSQLite:
		path := filepath.Join(b.dir, "bench.db")
		logf("sqlite: writing %s rows into %s (WAL)", fmtInt(sqliteRows), path)
		if err := makeSQLiteDB(path, sqliteRows); err != nil {
			return nil, fmt.Errorf("make the SQLite file: %w", err)
		}
		b.dataEnv = []string{"BENCH_SQLITE=" + path, pool}
		return func() { b.dataEnv = nil }, nil
	case secRedis:
		r, err := startRedis(filepath.Join(b.dir, "redis"))
		if err != nil {
			return nil, err
		}
		logf("redis: redis-server %s on %s (pid %d), %s keys of %d bytes", r.ver, r.addr, r.pid, fmtInt(redisKeys), redisValue)
		m.redis = r.ver
		b.dataEnv, b.backend = []string{"BENCH_REDIS=" + r.url, pool}, r.pid
		return func() {
			if !r.alive() {
				logf("redis: redis-server had exited before the section's end: %v", r.cmd.ProcessState)
			}
			r.stop()
			b.dataEnv, b.backend = nil, 0
		}, nil
	}
	return func() {}, nil
}

// redisServer is the redis section's throwaway redis-server.
type redisServer struct {
	cmd  *exec.Cmd
	pid  int
	addr string
	url  string
	log  string
	end  chan struct{}
	ver  string
}

// startRedis starts redis-server on a free loopback port with no
// persistence (its folder and log under dir) and fills it with the keys.
func startRedis(dir string) (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("redis-server is not on PATH (apt-get install redis-server)")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var last error
	for try := 0; try < 3; try++ { // the free port may be taken before redis binds it
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		r := &redisServer{addr: fmt.Sprintf("127.0.0.1:%d", port), log: filepath.Join(dir, "redis.log"), end: make(chan struct{})}
		r.url = "redis://" + r.addr + "/0"
		r.cmd = exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", dir, "--logfile", r.log, "--daemonize", "no")
		if err := r.cmd.Start(); err != nil {
			return nil, err
		}
		r.pid = r.cmd.Process.Pid
		go func() { _ = r.cmd.Wait(); close(r.end) }()
		if last = r.waitReady(); last == nil {
			if last = r.fill(); last == nil {
				return r, nil
			}
		}
		r.stop()
	}
	return nil, last
}

// waitReady waits for PONG.
func (r *redisServer) waitReady() error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := r.do("PING")
		if err == nil {
			return nil
		}
		select {
		case <-r.end:
			b, _ := os.ReadFile(r.log)
			return fmt.Errorf("redis-server exited: %v\n%s", r.cmd.ProcessState, b)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server gave no PONG on %s within 20s: %v", r.addr, err)
		}
	}
}

// fill sets the keys (one pipeline on one connection) and reads the
// server's version.
func (r *redisServer) fill() error {
	var b bytes.Buffer
	for i := 1; i <= redisKeys; i++ {
		writeRESP(&b, "SET", redisKey(i), redisVal(i))
	}
	writeRESP(&b, "DBSIZE")
	writeRESP(&b, "INFO", "server")
	c, err := net.DialTimeout("tcp", r.addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write(b.Bytes()); err != nil {
		return err
	}
	br := bufio.NewReader(c)
	for i := 1; i <= redisKeys; i++ {
		if v, err := readRESP(br); err != nil || v != "OK" {
			return fmt.Errorf("SET %s: %q %v", redisKey(i), v, err)
		}
	}
	if v, err := readRESP(br); err != nil || v != strconv.Itoa(redisKeys) {
		return fmt.Errorf("DBSIZE: %q %v, want %d", v, err, redisKeys)
	}
	info, err := readRESP(br)
	if err != nil {
		return fmt.Errorf("INFO: %v", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			r.ver = v
		}
	}
	return nil
}

// do sends one command on a connection of its own.
func (r *redisServer) do(args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", r.addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var b bytes.Buffer
	writeRESP(&b, args...)
	if _, err := c.Write(b.Bytes()); err != nil {
		return "", err
	}
	return readRESP(bufio.NewReader(c))
}

// stop ends redis-server: SIGTERM, then SIGKILL after 10 s.
func (r *redisServer) stop() {
	select {
	case <-r.end:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.end:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.end
	}
}

func (r *redisServer) alive() bool {
	select {
	case <-r.end:
		return false
	default:
		return true
	}
}

func writeRESP(b *bytes.Buffer, args ...string) {
	fmt.Fprintf(b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(b, "$%d\r\n%s\r\n", len(a), a)
	}
}

// readRESP reads one reply that is a status, an integer or a bulk string
// (errors are errors; a nil bulk string is "").
func readRESP(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply line")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := readFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}

func readFull(r *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// The check before each data run: the requests wrk sends for a few ids or
// keys, on one keep-alive connection, and each reply checked whole.

// checkIDs are the ids (and key numbers) checked before a run: the first,
// one in the middle, the last.
func checkIDs(n int) []int { return []int{1, n/2 + 1, n} }

// checkUserReply checks a reply to GET /user?id=id: 200, JSON, and the
// body decodes to exactly row id (the same keys and values, integers as
// integers, whatever the key order or spacing of the server's encoder).
func checkUserReply(head http1Head, body []byte, id int) error {
	if ct, _ := headerValue(head.raw, "content-type"); !bytes.HasPrefix(bytes.ToLower(ct), []byte("application/json")) {
		return fmt.Errorf("Content-Type %q, want application/json", ct)
	}
	return checkUserJSON(body, id)
}

func checkUserJSON(body []byte, id int) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var got map[string]any
	if err := dec.Decode(&got); err != nil {
		return fmt.Errorf("body %q is not a JSON object: %v", clip(body, 120), err)
	}
	if dec.More() {
		return fmt.Errorf("body %q: data after the JSON object", clip(body, 120))
	}
	u := userOf(id)
	want := map[string]any{"id": json.Number(strconv.FormatInt(u.ID, 10)), "name": u.Name, "email": u.Email, "created": json.Number(strconv.FormatInt(u.Created, 10))}
	if len(got) != len(want) {
		return fmt.Errorf("body %q: want exactly the keys id, name, email, created", clip(body, 120))
	}
	for k, v := range want {
		if got[k] != v {
			return fmt.Errorf("body %q: %s is %#v, want %#v", clip(body, 120), k, got[k], v)
		}
	}
	return nil
}

// checkRedisReply checks a reply to GET /get?k=bench:i: 200, text, the
// value as the body.
func checkRedisReply(head http1Head, body []byte, i int) error {
	if ct, _ := headerValue(head.raw, "content-type"); !bytes.HasPrefix(bytes.ToLower(ct), []byte("text/plain")) {
		return fmt.Errorf("Content-Type %q, want text/plain", ct)
	}
	if want := redisVal(i); string(body) != want {
		return fmt.Errorf("body %q, want %q", clip(body, 120), want)
	}
	return nil
}

// http1Head is a response's status line and headers (each line ending
// with CRLF).
type http1Head struct{ raw []byte }

// checkGets sends GET prefix+id for each id on one connection, as wrk
// sends them (Host header only), and checks each reply with check.
func checkGets(addr netip.AddrPort, prefix string, ids []int, check func(http1Head, []byte, int) error) error {
	c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 0, 4096)
	tmp := make([]byte, 4096)
	for _, id := range ids {
		path := prefix + strconv.Itoa(id)
		if _, err := c.Write(wrkGet(path, addr.String())); err != nil {
			return fmt.Errorf("GET %s: write: %w", path, err)
		}
		buf = buf[:0]
		for {
			n, rerr := c.Read(tmp)
			buf = append(buf, tmp[:n]...)
			k, head, body, err := splitHTTPReply(buf)
			if err != nil {
				return fmt.Errorf("GET %s: %w", path, err)
			}
			if k > 0 {
				if k < len(buf) {
					return fmt.Errorf("GET %s: %d unexpected bytes after the reply: %q", path, len(buf)-k, clip(buf[k:], 80))
				}
				if err := check(http1Head{head}, body, id); err != nil {
					return fmt.Errorf("GET %s: %w", path, err)
				}
				break
			}
			if rerr != nil {
				return fmt.Errorf("GET %s: reply after %d bytes (%q): %w", path, len(buf), clip(buf, 80), rerr)
			}
		}
	}
	return nil
}

// wrkGet is the request wrk's wrk.format("GET", path) makes.
func wrkGet(path, host string) []byte {
	return []byte("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n")
}

// The wrk script of the data sections: each thread sends GET prefix..id
// for ids 1..count in a fixed order that visits every id (a stride of
// 7919, a prime, through the ids; each thread from its own offset),
// every request built once in init.
const wrkGetScript = `-- tests/bench: GET prefix..id for ids 1..count (wrk -s this -- prefix count)
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local reqs, n, i = {}, 0, 0
function init(args)
  local prefix, count = args[1], tonumber(args[2])
  for j = 1, count do
    reqs[j] = wrk.format("GET", prefix .. (((j - 1) * 7919 + tid * 4999) % count + 1))
  end
  n = count
end
function request()
  i = i % n + 1
  return reqs[i]
end
`

// getOrder is the order of ids the wrk script and the Go generator use:
// the j-th request (0-based) of load thread t (of connection t for the Go
// generator) asks for this id.
func getOrder(j, t, count int) int { return (j*7919+t*4999)%count + 1 }
