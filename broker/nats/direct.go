package nats

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/imscript/imscript/broker"
	natsgo "github.com/nats-io/nats.go"
)

// Reading the history stream: JetStream's direct get, one request per
// message or per batch of messages of one subject from a stream sequence
// on (no consumer to create or delete). All reads go through here.

// Headers of a stored publication (and of a live one: seq, time, node).
const (
	hdrSeq  = "Imscript-Seq"
	hdrTime = "Imscript-Time"
	hdrNode = "Imscript-Node"
	hdrSize = "Imscript-Size"
	hdrTTL  = "Imscript-Ttl"

	hdrStream = "Imscript-Stream" // of a live publication with history: its stream sequence

	hdrStreamSeq = "Nats-Sequence"      // of a direct get reply
	hdrLastSeq   = "Nats-Last-Sequence" // of the end of a batch: the last reply's stream sequence
	hdrStatus    = "Status"             // of a status reply (no data)
)

var errNotFound = errors.New("no message")

// entry is one stored publication and where it is in the stream.
type entry struct {
	pub    broker.Publication
	stream uint64        // stream sequence; 0 when unknown (inside a batch)
	size   int           // the HistorySize it was published with
	ttl    time.Duration // its HistoryTTL (0: none)
}

func headerUint(m *natsgo.Msg, key string) (uint64, bool) {
	v := m.Header[key]
	if len(v) == 0 {
		return 0, false
	}
	n, err := strconv.ParseUint(v[0], 10, 64)
	return n, err == nil
}

// parseEntry reads a stored publication off a direct get reply with
// headers.
func parseEntry(m *natsgo.Msg) (entry, error) {
	stream, ok := headerUint(m, hdrStreamSeq)
	if !ok {
		return entry{}, fmt.Errorf("direct get reply without %s", hdrStreamSeq)
	}
	e, err := parseEnvelope(m.Data)
	if err != nil {
		return entry{}, fmt.Errorf("stream message %d: %w", stream, err)
	}
	e.stream = stream
	return e, nil
}

// status returns the status code of a status reply ("" for a message).
func status(m *natsgo.Msg) string {
	if len(m.Data) != 0 || m.Header == nil {
		return ""
	}
	return m.Header.Get(hdrStatus)
}

// request sends one direct get and reads its one reply.
func (b *Broker) request(subject string, req []byte) (entry, error) {
	b.gets.Add(1)
	m, err := b.nc.Request(subject, req, b.timeout)
	if err != nil {
		return entry{}, err
	}
	switch status(m) {
	case "":
		return parseEntry(m)
	case "404":
		return entry{}, errNotFound
	default:
		return entry{}, fmt.Errorf("direct get: status %s %s", status(m), m.Header.Get("Description"))
	}
}

// last returns the last message of subj (errNotFound when it has none);
// from the stream's leader when it has more than one copy (leader.go).
func (b *Broker) last(subj string) (entry, error) {
	if b.leaderReads.Load() {
		return b.leaderLast(subj)
	}
	return b.request(directGet+"."+subj, nil)
}

// next returns the first message of subj at stream sequence seq or after.
func (b *Broker) next(subj string, seq uint64) (entry, error) {
	return b.request(directGet, fmt.Appendf(nil, `{"seq":%d,"next_by_subj":%q}`, seq, subj))
}

// batch returns up to n messages of subj from stream sequence seq on, in
// stream order, in as few direct gets as the server's byte limit allows.
func (b *Broker) batch(subj string, seq uint64, n int) ([]entry, error) {
	out := make([]entry, 0, n)
	for len(out) < n {
		got, more, err := b.batchOnce(subj, seq, n-len(out))
		out = append(out, got...)
		if err != nil || !more || len(got) == 0 {
			return out, err
		}
		seq = got[len(got)-1].stream + 1
	}
	return out, nil
}

// batchOnce is one batch direct get, of bodies only (see envelope.go); the
// end of the batch tells the last one's stream sequence. more reports that
// the server stopped before n (its byte limit) with messages of subj left.
func (b *Broker) batchOnce(subj string, seq uint64, n int) ([]entry, bool, error) {
	b.gets.Add(1)
	inbox := b.nc.NewInbox()
	// The replies (n messages and the end of the batch) fit: none is dropped.
	replies := make(chan *natsgo.Msg, n+1)
	sub, err := b.nc.ChanSubscribe(inbox, replies)
	if err != nil {
		return nil, false, err
	}
	defer sub.Unsubscribe()
	req := fmt.Appendf(nil, `{"seq":%d,"next_by_subj":%q,"batch":%d,"no_hdr":true}`, seq, subj, n)
	if err := b.nc.PublishRequest(directGet, inbox, req); err != nil {
		return nil, false, err
	}
	out := make([]entry, 0, n)
	timeout := time.NewTimer(b.timeout)
	defer timeout.Stop()
	for {
		var m *natsgo.Msg
		select {
		case m = <-replies:
		case <-timeout.C:
			return out, false, natsgo.ErrTimeout
		}
		switch status(m) {
		case "":
			e, err := parseEnvelope(m.Data)
			if err != nil {
				return out, false, fmt.Errorf("a stream message after %d: %w", seq, err)
			}
			out = append(out, e)
		case "204": // end of batch
			if len(out) > 0 {
				if out[len(out)-1].stream, _ = headerUint(m, hdrLastSeq); out[len(out)-1].stream == 0 {
					return out, false, fmt.Errorf("end of batch without %s", hdrLastSeq)
				}
			}
			pending, _ := headerUint(m, "Nats-Num-Pending")
			return out, pending > 0 && len(out) < n, nil
		case "404":
			return out, false, nil
		default:
			return out, false, fmt.Errorf("direct get: status %s %s", status(m), m.Header.Get("Description"))
		}
	}
}
