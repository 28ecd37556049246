package host

import (
	"slices"
	"strings"

	"github.com/imscript/imscript/script"
)

// The events of one connection run in order: while a handler of a
// connection is suspended (a Lua handler waiting in an asynchronous call)
// or the promise its handler returned is pending (JS), the connection's
// later events wait in its worker's held list for it, and run once it is
// done — as a token-first WebSocket protocol or a framed request/reply
// forwarder expects. A server with ordered = false lets them interleave, as Node and
// Swoole do. Other connections are never held up.

// maxHeld bounds the events one connection may have waiting; past it the
// connection is closed (a peer that floods a connection whose handler
// waits).
const maxHeld = 1 << 16

// hold keeps ev until c's handler in flight is done.
func (w *worker) hold(c *conn, ev *event) {
	if w.heldLen(c) >= maxHeld {
		if _, closing := ev.u.(closeUnit); !closing {
			if c.Close() {
				w.host.log.Warn("events waiting for a suspended handler past the limit, closing connection",
					"server", c.srv.addr(), "fd", c.id, "waiting", w.heldLen(c))
			}
			return
		}
	}
	if w.held == nil {
		w.held = map[*conn][]event{}
	}
	w.held[c] = append(w.held[c], *ev)
}

// heldLen is how many of c's events wait.
func (w *worker) heldLen(c *conn) int { return len(w.held[c]) }

// holdFirst makes ev c's first held event.
func (w *worker) holdFirst(c *conn, ev event) {
	if w.held == nil {
		w.held = map[*conn][]event{}
	}
	w.held[c] = slices.Insert(w.held[c], 0, ev)
}

// unwait ends one wait of c's: when none is left, its held events run.
func (w *worker) unwait(c *conn) {
	c.waits--
	if c.waits == 0 && w.heldLen(c) > 0 {
		w.released = append(w.released, c)
	}
}

// runReleased runs the held events of connections that stopped waiting,
// in order, until one waits again.
func (w *worker) runReleased() {
	for len(w.released) > 0 {
		c := w.released[0]
		w.released = w.released[1:]
		for c.waits == 0 && w.heldLen(c) > 0 {
			held := w.held[c]
			ev := held[0]
			held[0] = event{}
			if len(held) == 1 {
				delete(w.held, c)
			} else {
				w.held[c] = held[1:]
			}
			w.run(&ev)
		}
	}
	w.released = nil
}

// awaitPromise takes over a handler's pending promise (JS): it reports a
// rejection with the handler's name and, for an ordered connection's
// event, makes the connection wait until the promise settles. Callers that
// want the value too (a request answered, a task's result) add their own
// Then.
func (w *worker) awaitPromise(inst *instance, pend script.Pending, slot int, what string) {
	c := w.cur.conn
	if c != nil && !c.srv.settings().Ordered {
		c = nil
	}
	w.holdPromise(inst, pend, slot, what, c, nil)
}

// holdPromise is awaitPromise with the connection that waits given (nil:
// none): c's later events wait until the promise settles. settled, when
// set, runs in the promise job with its outcome, after the rejection is
// reported and before c's held events are let go — unless the instance
// closed meanwhile and let them go already (releasePromised).
func (w *worker) holdPromise(inst *instance, pend script.Pending, slot int, what string, c *conn, settled func(script.Value, error)) {
	if c != nil {
		c.waits++
		inst.promised[c]++
	}
	res := w.cur.res
	pend.Then(func(v script.Value, err error) {
		switch {
		case err == nil:
		case res != nil && res.refused != "" && strings.Contains(err.Error(), res.refused):
			w.host.log.Debug("handler stopped: its request was answered 400", "worker", w.id, "handler", what, "err", res.refused)
		default:
			w.m.h[slot].errors.Add(1) // the handler's error, for its metrics
			w.host.reportError("handler error", inst, err, "handler", what)
		}
		holding := c != nil && inst.promised[c] > 0
		if settled != nil && (c == nil || holding) {
			settled(v, err)
		}
		if holding {
			inst.promised[c]--
			if inst.promised[c] == 0 {
				delete(inst.promised, c)
			}
			w.unwait(c) // its held events run after this event (handle)
		}
	})
}

// releasePromised lets the connections waiting for inst's promises go:
// inst closes, so those promises will not settle.
func (inst *instance) releasePromised() {
	w := inst.worker
	for c, n := range inst.promised {
		for ; n > 0; n-- {
			w.unwait(c)
		}
		delete(inst.promised, c)
	}
}
