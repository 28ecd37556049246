package nats

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

const (
	streamName = "IMSCRIPT_HISTORY"
	epochKey   = "imscript_epoch"
	directGet  = "$JS.API.DIRECT.GET." + streamName
)

func newEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// streamConfig is the history stream's config when it is created. It keeps
// one message per channel (the last, whose seq must survive) until a
// publication with history raises the limit to its HistorySize.
func streamConfig(epoch string, replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              streamName,
		Description:       "imscript: channel history (one subject per room and per uid)",
		Subjects:          []string{histPrefix + ">"},
		Storage:           jetstream.FileStorage,
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: 1,
		Replicas:          replicas,
		AllowDirect:       true,
		Metadata:          map[string]string{epochKey: epoch},
	}
}

// ensureStream finds the history stream, or creates it with a new epoch
// (first start, or the store was lost), and learns its epoch, per-subject
// limit and copies. A stream that lacks the epoch (made by hand) gets one;
// one with another number of copies than wanted is moved to it.
func (b *Broker) ensureStream(wait time.Duration) error {
	b.streamMu.Lock()
	defer b.streamMu.Unlock()
	ctx, cancel := context.WithTimeout(b.stopCtx, wait)
	defer cancel()
	s, err := b.js.Stream(ctx, streamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		epoch := newEpoch()
		replicas := b.replicas
		if replicas == 0 { // as many as the cluster can place, up to 3
			replicas = 3
		}
		s, err = b.js.CreateStream(ctx, streamConfig(epoch, replicas))
		if replicas > 1 && b.replicas == 0 && cannotPlace(err) {
			b.log.Info("nats broker: NATS cannot place three copies of the history stream: keeping one", "err", err)
			s, err = b.js.CreateStream(ctx, streamConfig(epoch, 1))
		}
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) { // another node made it first
			s, err = b.js.Stream(ctx, streamName)
		} else if err == nil {
			b.log.Info("nats broker: history stream created: history starts empty, in a new epoch",
				"stream", streamName, "epoch", s.CachedInfo().Config.Metadata[epochKey], "replicas", s.CachedInfo().Config.Replicas)
		}
	}
	if err != nil {
		return fmt.Errorf("nats broker: history stream: %w", err)
	}
	cfg := s.CachedInfo().Config
	epoch := cfg.Metadata[epochKey]
	update := false
	if epoch == "" {
		if cfg.Metadata == nil {
			cfg.Metadata = map[string]string{}
		}
		cfg.Metadata[epochKey] = newEpoch()
		update = true
	}
	if want := b.replicas; want > 0 && cfg.Replicas != want {
		if want < cfg.Replicas && b.raiseOnly {
			b.log.Warn("nats broker: the history stream has more copies than this node's peers call for: kept (give every node the same peers)",
				"copies", cfg.Replicas, "peers call for", want)
		} else {
			b.log.Info("nats broker: history stream: changing its copies", "from", cfg.Replicas, "to", want)
			cfg.Replicas = want
			update = true
		}
	}
	if update {
		if s, err = b.js.UpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("nats broker: history stream: updating its config: %w", err)
		}
		cfg = s.CachedInfo().Config
		epoch = cfg.Metadata[epochKey]
	}
	b.epoch = epoch
	b.copies.Store(int64(max(cfg.Replicas, 1)))
	b.leaderReads.Store(cfg.Replicas > 1)
	b.limit.Store(cfg.MaxMsgsPerSubject)
	return nil
}

// cannotPlace reports whether err is JetStream refusing a stream's copies:
// not clustered, or not enough servers.
func cannotPlace(err error) bool {
	var je jetstream.JetStreamError
	if !errors.As(err, &je) || je.APIError() == nil {
		return false
	}
	switch je.APIError().ErrorCode {
	case 10074, // replicas > 1 not supported in non-clustered mode
		10005, // no suitable peers for placement
		10023: // insufficient resources
		return true
	}
	return false
}

// ensureLimit makes the stream keep at least size messages per channel.
// The limit only grows: a smaller HistorySize is applied when reading.
func (b *Broker) ensureLimit(size int) error {
	if err := b.waitReady(); err != nil {
		return err
	}
	if l := b.limit.Load(); l <= 0 || int64(size) <= l {
		return nil
	}
	b.streamMu.Lock()
	defer b.streamMu.Unlock()
	if l := b.limit.Load(); l <= 0 || int64(size) <= l {
		return nil
	}
	ctx, cancel := b.ctx()
	defer cancel()
	s, err := b.js.Stream(ctx, streamName)
	if err != nil {
		return err
	}
	cfg := s.CachedInfo().Config
	if cfg.MaxMsgsPerSubject > 0 && cfg.MaxMsgsPerSubject < int64(size) {
		cfg.MaxMsgsPerSubject = int64(size)
		if s, err = b.js.UpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("raising the history stream's messages per channel to %d: %w", size, err)
		}
		cfg = s.CachedInfo().Config
	}
	b.limit.Store(cfg.MaxMsgsPerSubject)
	return nil
}
