package nats

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

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
func streamConfig(epoch string) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              streamName,
		Description:       "imscript: channel history (one subject per room and per uid)",
		Subjects:          []string{histPrefix + ">"},
		Storage:           jetstream.FileStorage,
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: 1,
		Replicas:          1,
		AllowDirect:       true,
		Metadata:          map[string]string{epochKey: epoch},
	}
}

// ensureStream finds the history stream, or creates it with a new epoch
// (first start, or the store was lost), and learns its epoch and
// per-subject limit. A stream that lacks the epoch (made by hand) gets one.
func (b *Broker) ensureStream() error {
	b.streamMu.Lock()
	defer b.streamMu.Unlock()
	ctx, cancel := b.ctx()
	defer cancel()
	s, err := b.js.Stream(ctx, streamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = b.js.CreateStream(ctx, streamConfig(newEpoch()))
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) { // another node made it first
			s, err = b.js.Stream(ctx, streamName)
		} else if err == nil {
			b.log.Info("nats broker: history stream created: history starts empty, in a new epoch",
				"stream", streamName, "epoch", s.CachedInfo().Config.Metadata[epochKey])
		}
	}
	if err != nil {
		return fmt.Errorf("nats broker: history stream: %w", err)
	}
	cfg := s.CachedInfo().Config
	epoch := cfg.Metadata[epochKey]
	if epoch == "" {
		if cfg.Metadata == nil {
			cfg.Metadata = map[string]string{}
		}
		cfg.Metadata[epochKey] = newEpoch()
		if s, err = b.js.UpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("nats broker: history stream: setting its epoch: %w", err)
		}
		cfg = s.CachedInfo().Config
		epoch = cfg.Metadata[epochKey]
	}
	b.epoch = epoch
	b.limit.Store(cfg.MaxMsgsPerSubject)
	return nil
}

// ensureLimit makes the stream keep at least size messages per channel.
// The limit only grows: a smaller HistorySize is applied when reading.
func (b *Broker) ensureLimit(size int) error {
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
