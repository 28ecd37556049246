package nats

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The presence heartbeat (presence_kv.go): this node's keys renewed, the
// live nodes listed, the views swept; and Close's deletes.

// run starts the heartbeat: this node's keys rewritten every TTL/3, the
// nodes listed, the views swept; and the resynchronisation after a
// reconnection.
func (kv *kvPresence) run() {
	b := kv.b
	kv.cleanStale()
	// Before this node is listed (beat), so that the others' reach finds
	// it answering.
	if err := b.answerReach(); err != nil {
		b.log.Warn("nats broker: answering the other nodes' subscriptions", "err", err)
	}
	// A node that starts or leaves is listed by the others at once, not
	// at their next heartbeat (stats().cluster_nodes).
	own := presNotes + "node." + kv.nodeTok
	if _, err := b.nc.Subscribe(presNotes+"node.*", func(m *natsgo.Msg) {
		if m.Subject != own {
			select {
			case kv.relist <- struct{}{}:
			default:
			}
		}
	}); err != nil {
		b.log.Warn("nats broker: watching the cluster's nodes", "err", err)
	}
	kv.beat()
	b.bg.Go(func() {
		t := time.NewTicker(kv.ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-b.stop:
				return
			case <-kv.relist:
				kv.listNodes()
			case <-t.C:
				kv.beat()
			case <-kv.resync:
				kv.restore()
				kv.beat()
				kv.resyncViews()
			}
		}
	})
}

// restore makes the bucket again and marks every key of this node to be
// written unconditionally by the next refresh: after a NATS restart the
// bucket (memory storage) may be gone, and with it the keys.
func (kv *kvPresence) restore() {
	if err := kv.ensureBucket(kv.b.timeout); err != nil {
		kv.b.log.Warn("nats broker: presence bucket", "err", err)
		return
	}
	kv.mu.Lock()
	for _, m := range kv.mine {
		m.rev = 0
	}
	kv.mu.Unlock()
}

func (kv *kvPresence) resyncSoon() {
	select {
	case kv.resync <- struct{}{}:
	default:
	}
}

// cleanStale deletes the keys of this node's name that it does not hold:
// left by a previous run that did not close (killed), they would stay
// until their TTL. Each delete expects the key's revision as read, so a key
// written since is kept.
func (kv *kvPresence) cleanStale() {
	recs, err := kv.read(presPrefix+"*.*.*."+kv.nodeTok, "", 0)
	if err != nil {
		return
	}
	kv.mu.Lock()
	held := map[string]bool{}
	for _, m := range kv.mine {
		held[m.subj] = true
	}
	kv.mu.Unlock()
	n := 0
	for s, r := range recs {
		if r.live && !held[s] {
			if _, err := kv.write(s, nil, true, jetstream.WithExpectLastSequencePerSubject(r.seq)); err == nil {
				n++
			}
		}
	}
	if n > 0 {
		kv.b.log.Info("nats broker: deleted presence keys left by this node's previous run", "keys", n)
	}
}

// beat is one heartbeat.
func (kv *kvPresence) beat() {
	b := kv.b
	// Not retried: no bucket at all is what restore is for.
	if _, err := kv.writeOpts(presPrefix+"node."+kv.nodeTok, []byte(kv.inst+" "+b.node), false); err != nil && !b.closed.Load() {
		b.errors.Add(1)
		b.log.Warn("nats broker: presence heartbeat failed", "err", err)
		if errors.Is(err, natsgo.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) {
			kv.restore() // the bucket is gone (a NATS restart loses memory storage)
		}
	}
	kv.refresh()
	kv.listNodes()
	kv.loadViews()
	if b.mode == modeCluster {
		b.peers() // remembers the peers seen, so that Stats lists one that went down
	}
	kv.sweep(time.Now())
}

// refresh rewrites this node's presence keys, in chunks of asynchronous
// publications, each expecting the key's last revision.
func (kv *kvPresence) refresh() {
	b := kv.b
	type job struct {
		k   pkey
		m   mine
		ack jetstream.PubAckFuture
	}
	kv.mu.Lock()
	jobs := make([]job, 0, len(kv.mine))
	for k, m := range kv.mine {
		jobs = append(jobs, job{k: k, m: *m})
	}
	kv.mu.Unlock()
	const chunk = 1000
	failed := 0
	var firstErr error
	for len(jobs) > 0 && !b.closed.Load() {
		n := min(chunk, len(jobs))
		part := jobs[:n]
		jobs = jobs[n:]
		for i := range part {
			j := &part[i]
			m := &natsgo.Msg{Subject: j.m.subj, Data: presenceValue(j.m.since, j.k.uid)}
			opts := []jetstream.PublishOpt{jetstream.WithMsgTTL(kv.ttl)}
			if j.m.rev != 0 {
				opts = append(opts, jetstream.WithExpectLastSequencePerSubject(j.m.rev))
			}
			f, err := b.js.PublishMsgAsync(m, opts...)
			if err != nil {
				failed++
				firstErr = cmp(firstErr, err)
				continue
			}
			j.ack = f
		}
		timeout := time.After(b.timeout)
		for i := range part {
			j := &part[i]
			if j.ack == nil {
				continue
			}
			var err error
			var rev uint64
			select {
			case a := <-j.ack.Ok():
				rev = a.Sequence
			case err = <-j.ack.Err():
			case <-timeout:
				err = natsgo.ErrTimeout
			case <-b.stop:
				return // Close deletes the keys anyway
			}
			kv.mu.Lock()
			if cur := kv.mine[j.k]; cur != nil && cur.rev == j.m.rev {
				switch {
				case err == nil:
					cur.rev = rev
					if cur.since == 0 { // added while the cluster formed
						cur.since = rev
					}
				case isWrongLast(err):
					// The key is gone (it expired while this node could
					// not renew it): write it again at once.
					cur.rev = 0
				}
			}
			kv.mu.Unlock()
			if err != nil {
				if isWrongLast(err) {
					kv.rewrite(j.k)
					continue
				}
				failed++
				firstErr = cmp(firstErr, err)
			}
		}
	}
	if failed > 0 && !b.closed.Load() {
		b.errors.Add(1)
		b.log.Warn("nats broker: presence heartbeat: keys not renewed", "failed", failed, "err", firstErr)
	}
}

func cmp(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func isWrongLast(err error) bool {
	_, ok := conflict(err)
	return ok
}

// rewrite writes k's key again unconditionally (it expired).
func (kv *kvPresence) rewrite(k pkey) {
	l := kv.op(k)
	l.Lock()
	defer l.Unlock()
	kv.mu.Lock()
	m := kv.mine[k]
	var cp mine
	if m != nil {
		cp = *m
	}
	kv.mu.Unlock()
	if m == nil || cp.rev != 0 {
		return
	}
	rev, err := kv.write(cp.subj, presenceValue(cp.since, k.uid), false)
	if err != nil {
		return // the next heartbeat tries again
	}
	kv.mu.Lock()
	if cur := kv.mine[k]; cur == m {
		cur.rev = rev
	}
	kv.mu.Unlock()
}

// listNodes reads the live node keys.
func (kv *kvPresence) listNodes() {
	recs, err := kv.read(presPrefix+"node.*", "", 0)
	if err != nil {
		return
	}
	names := []string{kv.b.node}
	for s, r := range recs {
		if !r.live {
			continue
		}
		inst, name, ok := strings.Cut(string(r.data), " ")
		if !ok {
			continue
		}
		if s == presPrefix+"node."+kv.nodeTok {
			if inst != kv.inst && kv.warned.CompareAndSwap(false, true) {
				kv.b.log.Error("nats broker: another process uses this node's name: presence and delivery break; give every node its own --node", "node", name)
			}
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	kv.nodes.Store(&names)
}

// leave deletes this node's keys (Close): its users leave at once.
func (kv *kvPresence) leave() error {
	b := kv.b
	kv.mu.Lock()
	subjs := make([]string, 0, len(kv.mine)+1)
	for _, m := range kv.mine {
		subjs = append(subjs, m.subj)
	}
	kv.mine = map[pkey]*mine{}
	kv.mu.Unlock()
	if !b.isReady() {
		return nil
	}
	b.log.Debug("nats broker: deleting this node's presence", "keys", len(subjs))
	subjs = append(subjs, presPrefix+"node."+kv.nodeTok)
	var futures []jetstream.PubAckFuture
	for _, s := range subjs {
		m := &natsgo.Msg{Subject: s, Header: natsgo.Header{hdrKVOp: {"DEL"}}}
		f, err := b.js.PublishMsgAsync(m, jetstream.WithMsgTTL(kv.ttl))
		if err != nil {
			return fmt.Errorf("nats broker: deleting this node's presence: %w", err)
		}
		futures = append(futures, f)
	}
	timeout := time.After(b.timeout)
	failed := 0
	for _, f := range futures {
		select {
		case <-f.Ok():
		case <-f.Err():
			failed++
		case <-timeout:
			return fmt.Errorf("nats broker: deleting this node's presence: no answer from NATS in %s", b.timeout)
		}
	}
	if failed > 0 {
		return fmt.Errorf("nats broker: deleting this node's presence: %d of %d keys not deleted (they expire within %s)", failed, len(futures), kv.ttl)
	}
	return nil
}
