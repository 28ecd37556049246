package nats

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	natsgo "github.com/nats-io/nats.go"
)

// Reads in a cluster. With more than one copy of the history stream, every
// copy that is (nearly) caught up answers direct gets, and a node's own
// server is asked first: its copy may not hold the newest messages yet (a
// follower learns that a message is committed after the leader does). The
// seq protocol itself is safe with any read, since the leader checks a
// publication's expected last subject sequence; but a stale last message
// would make a publication conflict again and again, and a history read
// could give a position behind a seq a client already got live.
//
// So a channel's last message is read from the stream's leader, with the
// JetStream API's message get ($JS.API.STREAM.MSG.GET, answered by the
// leader alone; one message, base64 in JSON, ~2 round trips of the
// cluster), and History then waits until the copy answering direct gets
// holds that message (a direct get of the channel's last), so the batch
// reads that follow see every message up to it. With one copy the leader
// is the only one answering, and none of this is done.

const msgGet = "$JS.API.STREAM.MSG.GET." + streamName

// leaderLast returns the last message of subj as the stream's leader has
// it (errNotFound when it has none).
func (b *Broker) leaderLast(subj string) (entry, error) {
	req, _ := json.Marshal(struct {
		LastFor string `json:"last_by_subj"`
	}{subj})
	deadline := time.Now().Add(b.timeout)
	// An attempt has a part of the time: a request that reached a leader
	// that is going away gets no answer; the next one finds the new leader.
	part := max(b.timeout/5, 250*time.Millisecond)
	for wait := time.Millisecond; ; wait = min(2*wait, 250*time.Millisecond) {
		b.gets.Add(1)
		m, err := b.nc.Request(msgGet, req, min(part, time.Until(deadline)))
		if (errors.Is(err, natsgo.ErrNoResponders) || errors.Is(err, natsgo.ErrTimeout)) && time.Now().Add(wait).Before(deadline) {
			time.Sleep(wait) // JetStream not there (yet): a leader election
			continue
		}
		if err != nil {
			return entry{}, err
		}
		var resp struct {
			Error *struct {
				Code        int    `json:"code"`
				ErrCode     int    `json:"err_code"`
				Description string `json:"description"`
			} `json:"error"`
			Message *struct {
				Seq  uint64 `json:"seq"`
				Data []byte `json:"data"` // base64 in JSON
			} `json:"message"`
		}
		if err := json.Unmarshal(m.Data, &resp); err != nil {
			return entry{}, fmt.Errorf("message get: %w", err)
		}
		if resp.Error != nil {
			if resp.Error.Code == 404 || resp.Error.ErrCode == 10037 {
				return entry{}, errNotFound
			}
			if resp.Error.Code == 503 && time.Now().Add(wait).Before(deadline) {
				time.Sleep(wait) // no leader for the moment
				continue
			}
			return entry{}, fmt.Errorf("message get: %s (%d)", resp.Error.Description, resp.Error.ErrCode)
		}
		if resp.Message == nil {
			return entry{}, errors.New("message get: empty reply")
		}
		e, err := parseEnvelope(resp.Message.Data)
		if err != nil {
			return entry{}, fmt.Errorf("stream message %d: %w", resp.Message.Seq, err)
		}
		e.stream = resp.Message.Seq
		return e, nil
	}
}

// lastForRead returns the channel's last message for History: from the
// leader with more than one copy, once the copy answering direct gets has
// it too.
func (b *Broker) lastForRead(subj string) (entry, error) {
	if !b.leaderReads.Load() {
		return b.last(subj)
	}
	l, err := b.leaderLast(subj)
	if err != nil {
		return l, err
	}
	deadline := time.Now().Add(b.timeout)
	for wait := 100 * time.Microsecond; ; wait = min(2*wait, 10*time.Millisecond) {
		d, err := b.request(directGet+"."+subj, nil)
		if err == nil && d.stream >= l.stream {
			return l, nil
		}
		if err != nil && !errors.Is(err, errNotFound) && !errors.Is(err, natsgo.ErrNoResponders) {
			return entry{}, err
		}
		if time.Now().Add(wait).After(deadline) {
			return entry{}, fmt.Errorf("the copy of the history stream that answers reads lags behind its leader (stream sequence %d, want %d)", d.stream, l.stream)
		}
		time.Sleep(wait)
	}
}
