package nats

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// serverOptions are the embedded server's options for cfg. One node listens
// on nothing: the broker's connection is in-process. (The cluster step
// listens for clients on a loopback port and for routes on ClusterAddr,
// because a server with DontListen starts no routes; that is a change here
// only.)
func serverOptions(cfg Config) *server.Options {
	return &server.Options{
		ServerName: "imscript-" + cfg.Node,
		JetStream:  true,
		StoreDir:   filepath.Join(cfg.DataDir, "nats"),
		DontListen: true,
		NoSigs:     true,
		// The host's buffers bound a message; let NATS take what they do.
		MaxPayload: 8 << 20,
	}
}

// startServer starts the embedded server and waits until it serves (its
// JetStream store recovered).
func startServer(cfg Config) (*server.Server, error) {
	opts := serverOptions(cfg)
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
