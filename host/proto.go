package host

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Protocols. A server's type ("tcp", "udp", "http", "websocket") names a
// protocol: the events its servers fire, how they listen, what settings
// apply, and the state and code that run on each of their connections. Each
// is one set of proto_<name>*.go files that registers itself here; the core
// (conn, the worker's events, worker) knows no protocol. Adding a protocol
// is one new file set and one registerProtocol call.

// protocol is one server type.
type protocol struct {
	name   string
	events []int // the handler slots its servers fire

	// Settings the type takes: framing (open_length_check, ...), TLS
	// (ssl_cert_file) and the HTTP ones (document_root).
	framing, tls, http bool
	// alpn are the TLS application protocols a TLS listener offers.
	alpn []string

	// listen opens a datagram server's socket; nil for stream servers,
	// which listen on the host's transports (gnet, or net for TLS).
	listen func(s *Server) (listener, error)
	// newConn makes the protocol state of an accepted connection (stream
	// servers). It runs on the transport's goroutine. Only HTTP keeps
	// state a connection (conn.http): tcp's returns nil, the connection's
	// protocol is then tcpConn, which needs none.
	newConn func(s *Server, c *conn) *httpConn
}

// stream says whether the type's servers accept connections.
func (t *protocol) stream() bool { return t.newConn != nil }

// fires says whether the type's servers fire the handler slot.
func (t *protocol) fires(slot int) bool {
	for _, e := range t.events {
		if e == slot {
			return true
		}
	}
	return false
}

var protocols = map[string]*protocol{}

// registerProtocol adds a server type (at init).
func registerProtocol(t *protocol) {
	if protocols[t.name] != nil {
		panic("host: server type " + t.name + " registered twice")
	}
	protocols[t.name] = t
}

// apiOrder is the order in which the API names the server types; types
// added later follow, by name.
var apiOrder = []string{"tcp", "udp", "http", "websocket"}

// protocolList names the types that have a property (all when has is nil).
func protocolList(has func(*protocol) bool) []string {
	var names, later []string
	for _, n := range apiOrder {
		if p := protocols[n]; p != nil && (has == nil || has(p)) {
			names = append(names, n)
		}
	}
	for n, p := range protocols {
		if !slices.Contains(apiOrder, n) && (has == nil || has(p)) {
			later = append(later, n)
		}
	}
	sort.Strings(later)
	return append(names, later...)
}

// protocolNames lists every type for error messages ("tcp, udp, ...").
func protocolNames() string { return strings.Join(protocolList(nil), ", ") }

// protocolsWith names the types that have a property, for error messages
// ("tcp, http and websocket").
func protocolsWith(has func(*protocol) bool) string {
	names := protocolList(has)
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// lookupProtocol finds the type a declaration names.
func lookupProtocol(name string) (*protocol, error) {
	t := protocols[name]
	if t == nil {
		return nil, fmt.Errorf("setting type: %q is not a server type (%s)", name, protocolNames())
	}
	return t, nil
}

// commonEvents fire on every server type.
var commonEvents = []int{hStart, hShutdown, hWorkerStart, hWorkerStop, hTask, hFinish, hPresence}

// connProto is a protocol's state for one connection. Its input runs on
// the connection's transport goroutine (a gnet loop, or the TLS reader);
// gone runs on the connection's worker; push from any goroutine.
type connProto interface {
	// input consumes the complete units (packages, requests, frames)
	// buffered in in and posts them to the connection's worker. It never
	// blocks; bytes of an incomplete unit stay buffered.
	input(c *conn, in inbound)
	// push sends one hub message (publish, sendToUid) in the protocol's
	// framing; false when the connection takes no such messages (a plain
	// HTTP connection, a WebSocket before its handshake).
	push(c *conn, m *message) bool
	// gone runs on the worker when the connection's close event is
	// handled, before the script's close handler.
	gone(c *conn)
}

// unit is one thing that happened, for a worker to handle: a TCP package, an
// HTTP request, a WebSocket message, a datagram, a connection opening or
// closing, a timer falling due. Protocols define their own; run calls the
// script's handler.
type unit interface {
	run(w *worker, ev *event)
}
