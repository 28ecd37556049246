// Command goref is the bench's Go reference for the HTTP, WebSocket and
// data rows: a net/http "hello world" server (the HTTP ceiling), a
// gorilla/websocket echo server, a gorilla/websocket room broadcast (every
// message to every client), or net/http answering GET /user?id=N from
// SQLite (database/sql + modernc.org/sqlite) and GET /get?k=KEY from Redis
// (go-redis v9), each the plain idiomatic way (a goroutine per
// connection).
//
//	PORT=9501 goref -mode http [-cpuprofile PREFIX]
//	PORT=9501 goref -mode ws   [-cpuprofile PREFIX]
//	PORT=9501 goref -mode room [-cpuprofile PREFIX]
//	PORT=9501 BENCH_SQLITE=/tmp/bench.db BENCH_POOL=4 goref -mode sqlite [-cpuprofile PREFIX]
//	PORT=9501 BENCH_REDIS=redis://127.0.0.1:6379/0 BENCH_POOL=4 goref -mode redis [-cpuprofile PREFIX]
//
// With -cpuprofile, SIGUSR1 starts a CPU profile and SIGUSR2 writes it (see
// tests/bench/internal/sigprof); the flags, signals, open-file limit and
// PORT are handled as in gnetecho (see tests/bench/internal/refserver).
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"sync"

	"github.com/gorilla/websocket"

	"github.com/imscript/imscript/tests/bench/internal/refserver"
)

var hello = []byte("hello world")

func helloHandler(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write(hello)
}

var upgrader = websocket.Upgrader{
	ReadBufferSize:  4096,
	WriteBufferSize: 4096,
	CheckOrigin:     func(*http.Request) bool { return true },
}

// echoHandler upgrades and sends every message back unchanged.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	for {
		mt, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(mt, msg); err != nil {
			return
		}
	}
}

// room is every open connection of the broadcast mode.
type room struct {
	mu    sync.RWMutex
	conns map[*roomConn]struct{}
}

type roomConn struct {
	mu sync.Mutex // one writer at a time
	c  *websocket.Conn
}

var theRoom = room{conns: map[*roomConn]struct{}{}}

// roomHandler upgrades, joins the room and sends every message to every
// member, the sender too, encoding the frame once.
func roomHandler(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	me := &roomConn{c: c}
	theRoom.mu.Lock()
	theRoom.conns[me] = struct{}{}
	theRoom.mu.Unlock()
	defer func() {
		theRoom.mu.Lock()
		delete(theRoom.conns, me)
		theRoom.mu.Unlock()
		_ = c.Close()
	}()
	for {
		mt, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		pm, err := websocket.NewPreparedMessage(mt, msg)
		if err != nil {
			return
		}
		theRoom.mu.RLock()
		for m := range theRoom.conns {
			m.mu.Lock()
			_ = m.c.WritePreparedMessage(pm)
			m.mu.Unlock()
		}
		theRoom.mu.RUnlock()
	}
}

func main() {
	mode := flag.String("mode", "http", "http (hello world), ws (gorilla/websocket echo), room (gorilla/websocket broadcast), sqlite (GET /user?id=N from BENCH_SQLITE) or redis (GET /get?k=KEY from BENCH_REDIS)")
	port := refserver.Start()
	var h http.HandlerFunc
	switch *mode {
	case "http":
		h = helloHandler
	case "ws":
		h = echoHandler
	case "room":
		h = roomHandler
	case "sqlite":
		h = sqliteHandler(pool())
	case "redis":
		h = redisHandler(pool())
	default:
		log.Fatalf("goref: unknown -mode %q", *mode)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		log.Fatalf("goref: %v", err)
	}
	log.Fatal(http.Serve(ln, h))
}
