package nats

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Making sure of the history stream and the presence bucket. One node does
// it in Open. A cluster node (or one on external NATS) does it in the
// background, retried with backoff until it works: a fresh cluster has no
// JetStream meta leader until a majority of its peers are up, and Open
// must not fail for that. The calls that need the stream wait for it up
// to the request timeout and then fail with errNotReady.

// errNotReady is the error of a call made while the stream is not there.
var errNotReady = errors.New("JetStream is not ready (the cluster has not formed or has no JetStream leader)")

// setup makes sure of the stream and the bucket once, each request waiting
// up to wait (a JetStream request gets no answer at all while there is no
// meta leader: the background retries with short waits first).
func (b *Broker) setup(wait time.Duration) error {
	if err := b.ensureStream(wait); err != nil {
		return err
	}
	if b.kv != nil {
		if err := b.kv.ensureBucket(wait); err != nil {
			return err
		}
	}
	return nil
}

// startSetup runs setup in the background until it succeeds or the broker
// closes; then the presence heartbeat starts.
func (b *Broker) startSetup() {
	b.bg.Go(func() {
		wait := 100 * time.Millisecond
		start := time.Now()
		for attempt := 1; ; attempt++ {
			err := b.setup(min(time.Duration(attempt)*time.Second, b.timeout))
			if err == nil {
				break
			}
			b.setupErr.Store(&err)
			if b.closed.Load() {
				return
			}
			// Quiet while a fresh cluster forms; then say so, now and then.
			if since := time.Since(start); since > 10*time.Second && attempt%10 == 0 {
				b.log.Warn("nats broker: JetStream not ready yet, retrying", "after", since.Round(time.Second).String(), "err", err)
			} else {
				b.log.Debug("nats broker: JetStream not ready yet, retrying", "err", err)
			}
			select {
			case <-b.stop:
				return
			case <-time.After(wait + rand.N(wait/2)):
			}
			wait = min(2*wait, 5*time.Second)
		}
		b.setupErr.Store(nil)
		close(b.ready)
		b.log.Info("nats broker: ready", "mode", b.mode, "node", b.node, "epoch", b.epoch,
			"replicas", b.copies.Load(), "after", time.Since(start).Round(time.Millisecond).String())
		if b.kv != nil {
			b.kv.run()
		}
	})
}

// isReady reports whether the stream is there.
func (b *Broker) isReady() bool {
	select {
	case <-b.ready:
		return true
	default:
		return false
	}
}

// waitReady waits up to the request timeout for the stream.
func (b *Broker) waitReady() error {
	if b.isReady() {
		return nil
	}
	t := time.NewTimer(b.timeout)
	defer t.Stop()
	select {
	case <-b.ready:
		return nil
	case <-b.stop:
		return errClosedNow
	case <-t.C:
		if p := b.setupErr.Load(); p != nil && *p != nil {
			return fmt.Errorf("%w: waited %s: %w", errNotReady, b.timeout, *p)
		}
		return fmt.Errorf("%w: waited %s", errNotReady, b.timeout)
	}
}

// errClosedNow is waitReady's error when Close ends the wait; fail turns it
// into broker.ErrClosed.
var errClosedNow = errors.New("closed")
