package nats

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// clusterName is the embedded servers' cluster name: every node of one
// imscript cluster has it, and a route from a server with another name is
// refused.
const clusterName = "imscript"

// serverOptions are the embedded server's options for cfg. One node listens
// on nothing: the broker's connection is in-process. A cluster node listens
// for routes on ClusterAddr and routes to every peer (itself among them: a
// route to itself is dropped by the server, and the list then gives the
// JetStream meta group its expected size, the number of peers). It also
// listens for clients on a loopback port (ClientPort, else a free one),
// because a server with DontListen starts no routes; the broker's own
// connection stays in-process.
func serverOptions(cfg Config) (*server.Options, error) {
	opts := &server.Options{
		ServerName: "imscript-" + cfg.Node,
		JetStream:  true,
		StoreDir:   filepath.Join(cfg.DataDir, "nats"),
		DontListen: true,
		NoSigs:     true,
		// The host's buffers bound a message; let NATS take what they do.
		MaxPayload: 8 << 20,
	}
	if cfg.ClusterAddr == "" {
		return opts, nil
	}
	host, port, err := splitHostPort(cfg.ClusterAddr)
	if err != nil {
		return nil, fmt.Errorf("nats broker: cluster address: %w", err)
	}
	opts.DontListen = false
	opts.Host = "127.0.0.1"
	opts.Port = server.RANDOM_PORT
	if cfg.ClientPort > 0 {
		opts.Port = cfg.ClientPort
	}
	opts.Cluster = server.ClusterOpts{
		Name: clusterName,
		Host: host,
		Port: port,
		// The client port is loopback: no client of another node can use
		// it, so it is not told to clients.
		NoAdvertise: true,
		// A configured route is retried for ever; back off while a peer
		// is down.
		ConnectBackoff: true,
	}
	for _, p := range routePeers(cfg) {
		u, err := url.Parse("nats-route://" + p)
		if err != nil {
			return nil, fmt.Errorf("nats broker: peer %q: %w", p, err)
		}
		opts.Routes = append(opts.Routes, u)
	}
	return opts, nil
}

// startServer starts the embedded server and waits until it serves (its
// JetStream store recovered).
func startServer(cfg Config) (*server.Server, error) {
	opts, err := serverOptions(cfg)
	if err != nil {
		return nil, err
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats broker: embedded server: %w", err)
	}
	srv.SetLoggerV2(serverLogger{cfg.Logger.With("nats", "server")}, false, false, false)
	srv.Start()
	wait := cfg.StartTimeout
	if wait <= 0 {
		wait = 60 * time.Second
	}
	if !srv.ReadyForConnections(wait) {
		shutdown(srv)
		return nil, errors.New("nats broker: the embedded server did not start in " + wait.String())
	}
	if !srv.JetStreamEnabled() {
		shutdown(srv)
		return nil, fmt.Errorf("nats broker: the embedded server has no JetStream (store %s)", opts.StoreDir)
	}
	return srv, nil
}

// shutdown stops srv and waits until it has (its store closed).
func shutdown(srv *server.Server) {
	srv.Shutdown()
	srv.WaitForShutdown()
}

// serverLogger passes the embedded server's warnings and errors to slog;
// its notices, debug and trace lines are dropped.
type serverLogger struct{ log *slog.Logger }

func (serverLogger) Noticef(string, ...any) {}
func (serverLogger) Debugf(string, ...any)  {}
func (serverLogger) Tracef(string, ...any)  {}
func (l serverLogger) Warnf(format string, v ...any) {
	if strings.HasPrefix(format, "Metalayer blocking snapshot") {
		return // every snapshot of the meta group: routine, not a warning
	}
	l.log.Warn(fmt.Sprintf(format, v...))
}
func (l serverLogger) Errorf(format string, v ...any) {
	l.log.Error(fmt.Sprintf(format, v...))
}

// Fatalf logs as an error: the server calls it before giving up, and a
// library must not exit the process (Open reports the failure).
func (l serverLogger) Fatalf(format string, v ...any) {
	l.log.Error(fmt.Sprintf(format, v...), "fatal", true)
}
