package nats

import (
	"errors"
	"math"
	"math/bits"
	"time"

	"github.com/imscript/imscript/broker"
)

// History implements broker.Broker. It answers from the history cache
// when the cache proves it holds what q selects (cache.go); otherwise it
// reads the channel's last message (its position, and the HistorySize and
// HistoryTTL it was published with), then the run q selects of the newest
// HistorySize seqs, without the entries older than the TTL (head first, as
// broker/memory: the entries kept stay a contiguous run ending with the
// last).
//
// A channel's messages are a contiguous run of seqs at increasing stream
// sequences, interleaved with other channels'. The stream sequence of seq
// s is at most last.stream - (last.seq - s) (every later seq took one), so
// a batch read from there finds s first when the channel had the stream to
// itself since; otherwise (other channels in between) locate searches the
// stream for s. A "last 50" or a recovery of 100 is then two or three
// requests when the channel dominates its part of the stream, and a
// logarithmic number of one-message probes more when it does not.
func (b *Broker) History(ch broker.Channel, q broker.HistoryQuery) ([]broker.Publication, broker.Position, error) {
	return b.history(ch, q, b.cache != nil)
}

// history is History, with the cache or without (tests compare the two).
func (b *Broker) history(ch broker.Channel, q broker.HistoryQuery, cached bool) ([]broker.Publication, broker.Position, error) {
	if b.closed.Load() {
		return nil, broker.Position{}, broker.ErrClosed
	}
	if !ch.Valid() {
		return nil, broker.Position{}, badChannel(ch)
	}
	if err := b.waitReady(); err != nil {
		return nil, broker.Position{}, b.fail("reading the history of", ch, err)
	}
	pos := broker.Position{Epoch: b.epoch}
	var cc *chanCache
	if cached {
		var doubt bool
		cc, doubt = b.cache.get(ch)
		if b.alone.Load() && !doubt {
			if got, seq, ok := b.fromCache(cc, q, nil); ok {
				b.cacheHits.Add(1)
				pos.Seq = seq
				return got, pos, nil
			}
		}
	}
	subj := histSubject(ch)
	last, err := b.lastForRead(subj)
	if errors.Is(err, errNotFound) {
		if cc != nil {
			b.cache.filled(cc, nil, lastMeta{})
		}
		return nil, pos, nil
	}
	if err != nil {
		return nil, broker.Position{}, b.fail("reading the history of", ch, err)
	}
	pos.Seq = last.pub.Seq
	if cc != nil {
		if got, _, ok := b.fromCache(cc, q, &last); ok {
			b.cacheHits.Add(1)
			return got, pos, nil
		}
	}
	es, run, err := b.read(subj, q, last)
	// With several copies a batch read may be answered by a copy that
	// does not hold the newest entries yet (the last message came from
	// the leader): read again, briefly, until the run reaches the end the
	// query selects.
	for try := 1; err == nil && b.leaderReads.Load() && !b.complete(es, q, last) && try <= 40; try++ {
		time.Sleep(time.Duration(try) * time.Millisecond)
		es, run, err = b.read(subj, q, last)
	}
	if err != nil {
		return nil, broker.Position{}, b.fail("reading the history of", ch, err)
	}
	if cc != nil {
		if len(run) == 0 || run[len(run)-1].pub.Seq != last.pub.Seq {
			run = []entry{last}
		}
		b.cache.filled(cc, run, metaOf(last))
	}
	return pubs(es), pos, nil
}

// window is what a query selects of a channel's history, its last message
// being m: the seqs lo..hi, less the entries at or before cutoff at its
// head, the first limit of them (0: all) unless newest, when lo..hi is
// already the newest limit; none when that is nothing whatever is kept.
type window struct {
	lo, hi uint64
	cutoff int64 // entries at or before it have expired
	limit  uint64
	newest bool
	none   bool
}

func (b *Broker) window(q broker.HistoryQuery, m lastMeta) window {
	if q.Since >= m.seq {
		return window{none: true}
	}
	first := uint64(1) // the oldest seq HistorySize keeps
	if m.seq > uint64(m.size) {
		first = m.seq - uint64(m.size) + 1
	}
	w := window{lo: max(q.Since+1, first), hi: m.seq, cutoff: math.MinInt64, limit: uint64(max(q.Limit, 0))}
	if q.Before > 0 {
		if q.Before <= w.lo {
			return window{none: true}
		}
		w.hi = min(w.hi, q.Before-1)
	}
	if m.ttl > 0 {
		w.cutoff = b.now().UnixMilli() - m.ttl.Milliseconds()
		if m.time <= w.cutoff { // the newest has expired: so has every other
			return window{none: true}
		}
	}
	if w.limit > 0 && w.hi-w.lo+1 > w.limit && q.Since == 0 {
		w.lo = w.hi - w.limit + 1 // the newest limit; those before lo are older still
		w.newest = true
	}
	return w
}

// read reads what q selects of subj's history from the stream, last being
// its last message: the entries, and run, the contiguous run of entries
// read that they are the end of, expired ones included (for the cache).
func (b *Broker) read(subj string, q broker.HistoryQuery, last entry) (es, run []entry, err error) {
	w := b.window(q, metaOf(last))
	if w.none {
		return nil, nil, nil
	}
	if w.newest {
		run, err := b.readRange(subj, w.lo, w.hi, last)
		if err != nil {
			return nil, nil, err
		}
		return dropExpired(run, w.cutoff), run, nil
	}
	// Forwards from lo: the oldest limit of the entries kept. When expired
	// entries are dropped the window moves on, so read on in chunks, each
	// from just after the last entry read.
	var out []entry
	var prev *entry
	for from := w.lo; from <= w.hi; {
		to := w.hi
		if w.limit > 0 {
			to = min(w.hi, from+(w.limit-uint64(len(out)))-1)
		}
		var es []entry
		if prev != nil && prev.stream != 0 && prev.pub.Seq == from-1 {
			es, err = b.readAfter(subj, *prev, to)
		} else {
			es, err = b.readRange(subj, from, to, last)
		}
		if err != nil {
			return nil, nil, err
		}
		if len(es) > 0 {
			prev = &es[len(es)-1]
		}
		if len(run) > 0 && len(es) > 0 && es[0].pub.Seq != run[len(run)-1].pub.Seq+1 {
			run = run[:0]
		}
		run = append(run, es...)
		if len(out) > 0 && len(es) > 0 && es[0].pub.Seq != out[len(out)-1].pub.Seq+1 {
			out = out[:0] // pushed out while we read: start again from what is kept
		}
		if len(out) == 0 {
			es = dropExpired(es, w.cutoff)
		}
		out = append(out, es...)
		if w.limit > 0 && uint64(len(out)) >= w.limit {
			break
		}
		from = to + 1
	}
	return out, run, nil
}

func pubs(es []entry) []broker.Publication {
	if len(es) == 0 {
		return nil
	}
	out := make([]broker.Publication, len(es))
	for i := range es {
		out[i] = es[i].pub
	}
	return out
}

// dropExpired drops the leading entries published at or before cutoff.
func dropExpired(es []entry, cutoff int64) []entry {
	i := 0
	for i < len(es) && es[i].pub.Time <= cutoff {
		i++
	}
	return es[i:]
}

// contiguous keeps the entries from the last break in their seqs on (a
// break means what came before was pushed out while being read), and none
// beyond hi.
func contiguous(es []entry, hi uint64) []entry {
	for i, e := range es {
		if e.pub.Seq > hi {
			es = es[:i]
			break
		}
	}
	start := 0
	for i := 1; i < len(es); i++ {
		if es[i].pub.Seq != es[i-1].pub.Seq+1 {
			start = i
		}
	}
	return es[start:]
}

// readAfter returns the entries after prev up to seq hi: prev's stream
// sequence is known, so one batch read from just after it.
func (b *Broker) readAfter(subj string, prev entry, hi uint64) ([]entry, error) {
	if hi <= prev.pub.Seq {
		return nil, nil
	}
	es, err := b.batch(subj, prev.stream+1, int(hi-prev.pub.Seq))
	return contiguous(es, hi), err
}

// readRange returns the kept entries of subj with seqs lo..hi, oldest
// first (starting after lo when lo is no longer kept); last is the
// channel's last message, hi ≤ last.seq.
func (b *Broker) readRange(subj string, lo, hi uint64, last entry) ([]entry, error) {
	if hi < lo {
		return nil, nil
	}
	if lo == last.pub.Seq {
		return []entry{last}, nil
	}
	// Every seq after lo took a stream sequence: lo's is at most u.
	u := last.stream - (last.pub.Seq - lo)
	top := last // the oldest message of subj known after lo's
	var es []entry
	bound := u // lo's stream sequence is at most bound
	if hi == last.pub.Seq {
		// A run up to the last (the newest N, a recovery up to now): read
		// from u at once. When the channel had the stream to itself since
		// lo, that is the run; else it is the run's end.
		raw, err := b.batch(subj, u, int(hi-lo+1))
		if err != nil {
			return nil, err
		}
		if len(raw) > 0 {
			if raw[0].pub.Seq == lo {
				return contiguous(raw, hi), nil
			}
			// Its stream sequence is not known (a batch tells only the
			// last one's) but nothing of subj is in [u, it): standing in
			// for it at u bounds and guesses lo's just as well.
			top = raw[0]
			top.stream = u
		}
		es = contiguous(raw, hi)
		bound = u - 1 // other channels' messages are in between: lo is before u
	}
	start, err := b.locate(subj, lo, top, bound)
	if errors.Is(err, errNotFound) { // the channel was emptied while we read
		return es, nil
	}
	if err != nil {
		return nil, err
	}
	if start.pub.Seq > hi || (len(es) > 0 && start.pub.Seq >= es[0].pub.Seq) {
		return es, nil // lo was pushed out: history starts later
	}
	pre := []entry{start}
	end := hi + 1 // the seq after the run to read from start
	if len(es) > 0 {
		end = es[0].pub.Seq
	}
	if n := end - start.pub.Seq - 1; n > 0 {
		more, err := b.batch(subj, start.stream+1, int(n))
		if err != nil {
			return nil, err
		}
		pre = append(pre, more...)
	}
	return contiguous(append(pre, es...), hi), nil
}

// locate returns the first kept message of subj whose seq is target or
// more. top is a message of subj with a seq above target, and target's
// stream sequence is at most u. Each probe reads the first message of subj
// at a stream sequence: interpolated between the messages known below and
// above target (the virtual message 0 at stream sequence 0 to begin with),
// or halfway when the last guess did not halve the range. Seqs are
// contiguous, so target's stream sequence t lies in [L, U]: L counts the
// seqs between the message below and target, U those between target and
// the message above.
func (b *Broker) locate(subj string, target uint64, top entry, u uint64) (entry, error) {
	loStream, loSeq := uint64(0), uint64(0)
	L := target
	U := min(u, top.stream-min(top.stream, top.pub.Seq-target))
	bisect := false
	for L <= U {
		g := L + (U-L)/2
		if !bisect {
			g = min(max(interpolate(loStream, loSeq, top.stream, top.pub.Seq, target), L), U)
		}
		width := U - L
		m, err := b.next(subj, g)
		if errors.Is(err, errNotFound) {
			break
		}
		if err != nil {
			return entry{}, err
		}
		switch {
		case m.pub.Seq == target:
			return m, nil
		case m.pub.Seq > target: // nothing of subj in [g, m.stream): t < g
			top = m
			U = min(g-1, m.stream-(m.pub.Seq-target))
		default:
			loStream, loSeq = m.stream, m.pub.Seq
			L = m.stream + (target - m.pub.Seq)
		}
		bisect = U >= L && U-L > width/2
	}
	// target is not kept (pushed out before or while we looked): history
	// starts with the channel's first message.
	return b.next(subj, 0)
}

// interpolate guesses the stream sequence of seq t from two messages
// (s0, r0) below and (s1, r1) above it, assuming the channel's share of
// the stream was even in between.
func interpolate(s0, r0, s1, r1, t uint64) uint64 {
	hi, lo := bits.Mul64(t-r0, s1-s0)
	q, _ := bits.Div64(hi, lo, r1-r0) // t-r0 < r1-r0: q < s1-s0 fits
	return s0 + q
}

// complete reports whether es ends where q's window of the channel (last
// being its last message) ends: the window's last seq, or, for a forward
// read with a limit, the limit-th seq. Expired entries leave only the
// head, so the end stays the check.
func (b *Broker) complete(es []entry, q broker.HistoryQuery, last entry) bool {
	w := b.window(q, metaOf(last))
	if w.none {
		return true
	}
	end := w.hi
	if w.limit > 0 && !w.newest && w.hi-w.lo+1 > w.limit {
		end = w.lo + w.limit - 1
	}
	if len(es) == 0 {
		return w.cutoff != math.MinInt64 // with a TTL everything may have expired
	}
	if es[len(es)-1].pub.Seq != end {
		return false
	}
	// Without a TTL nothing in the window is gone: its first seq is there
	// too (a copy that had not taken it, or a probe it answered, made the
	// read start later: seen as [2..20] for 1..20 with a node down).
	return w.cutoff != math.MinInt64 || es[0].pub.Seq == w.lo
}
