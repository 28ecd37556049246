// Package broker is the seam between the hub and everything beyond one
// process: cross-node delivery, cluster-wide presence and history streams.
// The hub calls a Broker, which broker/memory implements in one process and
// a NATS broker across nodes.
package broker

import (
	"errors"
	"strconv"
	"time"
)

// ErrClosed is returned by every method of a Broker after Close.
var ErrClosed = errors.New("broker: closed")

// Kind says what a channel belongs to.
type Kind uint8

// The kinds of channel.
const (
	Room Kind = iota + 1 // a room; Name is the room's name
	User                 // a uid's personal channel; Name is the uid's canonical key
)

// String returns "room", "user" or "kind(N)".
func (k Kind) String() string {
	switch k {
	case Room:
		return "room"
	case User:
		return "user"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Channel names one stream of publications: a room, or a uid's personal
// channel. It is comparable and cheap to use as a map key.
type Channel struct {
	Kind Kind
	Name string // a room name, or a uid's canonical key
}

// String returns "room:lobby", "user:s42".
func (c Channel) String() string { return c.Kind.String() + ":" + c.Name }

// Valid reports whether c has a known Kind and a non-empty Name.
func (c Channel) Valid() bool { return (c.Kind == Room || c.Kind == User) && c.Name != "" }

// Publication is one message on a channel.
//
// Data is shared, not copied: the publisher must not modify it after
// Publish, and a Handler or History caller must treat it as read-only.
type Publication struct {
	Data []byte
	Seq  uint64 // position in the channel's history; 0 when the channel keeps none
	Time int64  // unix milliseconds, set by the broker that accepted it
	Node string // the node it was published on
}

// Position is where a channel's history stream stands: Seq is the last seq
// given out (0 before the first publication with history) and Epoch names
// the stream. Epoch stays the same as long as the stream's history is not
// lost; a client holding (seq, epoch) can recover exactly the publications
// after seq while the epoch matches and seq+1 is still in history.
type Position struct {
	Seq   uint64
	Epoch string
}

// PublishOptions says how a publication is kept.
type PublishOptions struct {
	HistorySize int           // publications kept in the channel's history; 0: no history (Seq 0, nothing stored)
	HistoryTTL  time.Duration // how long a publication stays in history; 0: until pushed out by HistorySize
	// Stamp, when set, makes the bytes stored and sent: the broker calls it
	// with the seq and time it gives the publication (seq 0 without
	// history) and uses its result as the publication's Data. It may be
	// called more than once for one Publish (a broker that retries with
	// another seq); it must be cheap and must not call the broker.
	Stamp func(seq uint64, ms int64, data []byte) []byte
}

// HistoryQuery selects publications from a channel's history.
//
// The result is always a contiguous run of seqs, oldest first: those with
// Since < seq (and seq < Before when Before > 0); when Limit > 0 and more
// match, the newest Limit of them if Since == 0 (the "last N" query, paged
// backwards with Before) or else the oldest Limit (recovery forwards from
// Since, continued with Since = the last seq returned).
type HistoryQuery struct {
	Since  uint64 // seq > Since
	Before uint64 // seq < Before; 0 = no bound
	Limit  int    // 0 (or negative) = all
}

// Handler receives what arrives from other nodes. Calls come from broker
// goroutines (in broker/memory, the goroutine of the publishing call) and
// must not block; a handler may call back into the broker.
type Handler interface {
	// Deliver hands over a publication made on another node, for this
	// node's local members of ch. It is called only while this node is
	// subscribed to ch (a call under way when Unsubscribe returns may still
	// arrive, so the hub must tolerate a Deliver for a channel it left).
	Deliver(ch Channel, p Publication)
	// PresenceChanged reports that uid became present in (present = true)
	// or absent from ch cluster-wide, through another node: its first node
	// added it or its last node removed it. It is sent to the nodes
	// subscribed to ch, never to the node whose call caused it, and the
	// changes of one (ch, uid) arrive in the order they happened (present
	// and absent alternate). Like Deliver it is at most once: Presence is
	// the truth to resynchronise with.
	PresenceChanged(ch Channel, uid string, present bool)
}

// Remote is implemented by a broker whose calls wait on other processes
// (a NATS cluster, an external NATS): Remote reports whether they do. A
// script's handler that can suspend waits for such a call without holding
// its worker, so a slow or partitioned NATS stalls only the handlers that
// asked it something, not every connection of the worker.
type Remote interface {
	Remote() bool
}

// Broker carries what the hub shares with other nodes: publications of the
// channels a node has local interest in, history streams, and presence.
//
// Guarantees every implementation gives:
//   - Delivery is at most once: a publication reaches each subscribed other
//     node once or not at all (a node that missed one closes the gap with
//     History, by seq).
//   - Publications of one channel made on one node arrive at each other
//     node in the order they were made (for a channel with history, seq
//     order). Publications from different nodes may interleave in any way.
//   - A publication is never delivered back to the node that published it:
//     the hub delivers locally itself.
//   - History seqs are contiguous per channel, 1, 2, 3, …, whichever node
//     publishes; a seq, once given, is never given again within an epoch.
//   - The epoch is set when a channel's stream starts and changes only when
//     its history is lost (a memory broker restarted, a stream deleted); it
//     does not change when entries expire or are pushed out, so expiry shows
//     as "history no longer reaches back to since", not as a new epoch.
//
// All methods are safe for concurrent use. Before Start a broker accepts
// calls but delivers no events; after Close every method returns ErrClosed.
type Broker interface {
	// Node returns this node's name, the Node of its publications.
	Node() string

	// Start sets the handler for events from other nodes; it is called once,
	// before the node expects any.
	Start(h Handler) error

	// Subscribe records that this node has local interest in ch (its first
	// local member): from when it returns, publications made on other nodes
	// to ch are delivered here. Idempotent.
	Subscribe(ch Channel) error

	// Unsubscribe records that this node has no more local interest in ch;
	// publications made after it returns are not delivered here. Idempotent.
	Unsubscribe(ch Channel) error

	// Publish sends data to every other node subscribed to ch (never back
	// to this node) and, when opts.HistorySize > 0, appends it to ch's
	// history with the next seq, keeping at most HistorySize entries no
	// older than HistoryTTL. It returns the publication as stored (seq,
	// time, node). A publication without history gets Seq 0 and leaves
	// the stream's position unchanged.
	Publish(ch Channel, data []byte, opts PublishOptions) (Publication, error)

	// History returns the publications of ch's history selected by q,
	// oldest first, and ch's current position (the last seq given out,
	// which may be beyond the last one still kept, and the epoch). A
	// channel that never kept history has no publications and Seq 0, with
	// the epoch its stream will have, so a client's saved epoch stays valid
	// across the first publication.
	History(ch Channel, q HistoryQuery) ([]Publication, Position, error)

	// AddPresence records that this node has at least one connection of uid
	// in ch (called on the first one). Idempotent per node: presence is a
	// set of nodes per (ch, uid), not a count of calls. first reports that
	// uid was not present in ch through any node before (the cluster-wide
	// "join"); when two nodes add the same uid at once a broker may report
	// first to both of them, never to neither.
	// With an error the uid may still be recorded (and written later).
	AddPresence(ch Channel, uid string) (first bool, err error)

	// RemovePresence records that this node's last connection of uid left
	// ch. Removing what is not there is not an error. last reports that
	// uid is now present in ch through no node (the cluster-wide "leave").
	RemovePresence(ch Channel, uid string) (last bool, err error)

	// Presence returns the distinct uids present in ch through any node,
	// sorted.
	Presence(ch Channel) ([]string, error)

	// Close leaves the cluster: this node's subscriptions and presence end
	// (other nodes get PresenceChanged for uids that were present only
	// through it), Deliver calls under way to this node return before Close
	// does, and none start afterwards. Later calls return ErrClosed. Close
	// must not be called from inside the node's own Handler.
	Close() error
}

// Peer is another node of the cluster as this node's broker sees it.
type Peer struct {
	Name string        // the peer's node name
	Addr string        // its address ("" while down)
	Up   bool          // a link to it is open
	RTT  time.Duration // the link's round trip time, 0 when not measured
}

// PeerLister is a broker that knows the links to its cluster's other nodes
// (broker/nats as a node of an embedded cluster); the host reports them
// in its metrics and status page.
type PeerLister interface {
	// Peers lists the other nodes seen since the broker opened, sorted by
	// name; nil when the broker has no cluster of its own.
	Peers() []Peer
}
