package nats

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// External NATS: the nodes connect to an existing deployment (Config.URLs,
// the servers of one NATS cluster, or one server) and embed nothing. It
// needs JetStream on nats-server 2.11 or later (per-message TTLs and
// subject delete markers for presence, batch direct gets for history).
// The history stream and the presence bucket get HistoryReplicas copies:
// by default three when the NATS cluster can place them, else one.
//
// Credentials: user and password in a URL (nats://user:pass@host:4222), or
// a credentials file (Config.Credentials; imscript run takes it from
// --nats-creds or $IMSCRIPT_NATS_CREDS). The account needs JetStream and
// may use the subjects imh.>, imd.>, imp.>, $KV.IMSCRIPT_PRESENCE.> and
// the JetStream API ($JS.API.>).

// MinServerVersion is the oldest nats-server the broker works with.
const MinServerVersion = "2.11.0"

// openExternal connects to an existing NATS deployment.
func openExternal(cfg Config) (*Broker, error) {
	var opts []natsgo.Option
	if cfg.Credentials != "" {
		if _, err := os.Stat(cfg.Credentials); err != nil {
			return nil, fmt.Errorf("nats broker: credentials: %w", err)
		}
		opts = append(opts, natsgo.UserCredentials(cfg.Credentials))
	}
	urls := redacted(cfg.URLs)
	nc, err := connect(cfg, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, strings.Join(urls, ","))
	}
	if !versionAtLeast(nc.ConnectedServerVersion(), 2, 11) {
		v := nc.ConnectedServerVersion()
		nc.Close()
		return nil, fmt.Errorf("nats broker: %s runs nats-server %s: imscript needs %s or later (per-message TTLs)", nc.ConnectedUrlRedacted(), v, MinServerVersion)
	}
	b := makeBroker(cfg, nc, nil, modeExternal)
	// JetStream must be there: say so now rather than retry for ever.
	ctx, cancel := b.ctx()
	_, err = b.js.AccountInfo(ctx)
	cancel()
	if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
		nc.Close()
		return nil, fmt.Errorf("nats broker: %s: %w", nc.ConnectedUrlRedacted(), err)
	}
	b.log.Info("nats broker: external NATS", "node", b.node, "urls", strings.Join(urls, ","),
		"connected", nc.ConnectedUrlRedacted(), "server", nc.ConnectedServerName(),
		"version", nc.ConnectedServerVersion(), "cluster", nc.ConnectedClusterName(),
		"servers", len(nc.Servers()), "replicas", replicasText(b.replicas), "credentials", cfg.Credentials != "")
	b.startSetup()
	return b, nil
}

// versionAtLeast reports whether a server version "2.11.3" (or
// "v2.12.0-beta") is major.minor or later.
func versionAtLeast(v string, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(strings.TrimPrefix(v, "v"), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

func replicasText(n int) string {
	if n == 0 {
		return "auto"
	}
	return fmt.Sprint(n)
}

// redacted returns the URLs without their passwords, for logs.
func redacted(urls []string) []string {
	out := make([]string, len(urls))
	for i, s := range urls {
		u, err := url.Parse(s)
		if err != nil || u.User == nil {
			out[i] = s
			continue
		}
		out[i] = u.Redacted()
	}
	return out
}
