// Package host is the engine of imscript: the reactor (gnet event loops and,
// for TLS, net; a socket of its own for UDP), the protocols that turn bytes
// into events (tcp framing, HTTP/1.1, WebSocket), the workers that each own
// one script VM and run its handlers one at a time, the hub (uids, rooms,
// fan-out, behind package broker), and hot reload.
//
// Bindings and modules never import it: they are written against package
// script, whose Instance the host's instance implements. Files are named by room, so that a
// listing reads like the data flow: host_* (config, start, stop),
// reload_*, worker_*, instance*, server_*, conn_*, transport_*, proto_*
// (one protocol each), hub_*, client_* and api_<object> (the script-visible
// objects). docs/ARCHITECTURE.md walks through them.
package host
