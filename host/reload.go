package host

import (
	"errors"
	"sync"
	"time"
)

// Hot reload: compile the script again, load it in fresh VMs on every
// worker, bind the listeners it adds, then switch each worker to its new
// instance between two events (reload_commit.go applies the rest). Any
// failure before the switch keeps the running version and is reported;
// connections, queued events, tables and the hub carry over. A replaced
// version that still owes answers drains (reload_drain.go).

// Reload asks a running host to reload its script (as SIGHUP). It returns
// at once; the outcome is logged.
func (h *Host) Reload(why string) {
	select {
	case h.reloadCh <- why:
	default: // a reload is already pending
	}
}

// ReloadNow reloads synchronously and returns the error that kept the old
// version, if any.
func (h *Host) ReloadNow(why string) error { return h.reload(why) }

// loadOthers loads the program on the other workers (and task workers) in
// parallel.
func (h *Host) loadOthers(att *attempt, first *instance) ([]*instance, error) {
	insts := make([]*instance, len(h.all))
	insts[0] = first
	errs := make([]error, len(h.all))
	var wg sync.WaitGroup
	for i := 1; i < len(h.all); i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			insts[i], errs[i] = h.all[i].load(att)
		}(i)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		h.discard(insts)
		return nil, err
	}
	return insts, nil
}

// reload compiles the script again and, if every worker loads it, swaps the
// workers to the new version between two events.
func (h *Host) reload(why string) error {
	h.reloadMu.Lock()
	defer h.reloadMu.Unlock()
	if h.stopping.Load() {
		return errors.New("host is stopping")
	}
	if !isClosed(h.started) || len(h.workers) == 0 {
		return errors.New("host is not running")
	}
	start := time.Now()
	prog, err := h.lang.Compile(h.cfg.Script)
	if err != nil {
		h.reloadFailed(why, err)
		return err
	}
	att := newAttempt(prog)
	insts := make([]*instance, len(h.all))
	errs := make([]error, len(h.all))
	var wg sync.WaitGroup
	for i, w := range h.all {
		wg.Add(1)
		go func(i int, w *worker) {
			defer wg.Done()
			insts[i], errs[i] = w.load(att)
		}(i, w)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		h.discard(insts)
		h.reloadFailed(why, firstError(errs))
		return err
	}
	// All or nothing: the new version's new listeners are bound before
	// anything of the running version changes; one that cannot bind (a
	// port taken) keeps the running version, as a syntax error does.
	p, err := h.bind(insts[0])
	if err != nil {
		h.discard(insts)
		h.reloadFailed(why, err)
		return err
	}
	h.activate(insts)
	h.reloadCount.Add(1)
	h.apply(att, insts[0], p)
	if len(p.opened) > 0 {
		h.fireStart(p.opened)
	}
	h.log.Info("reloaded", "why", why, "reload_count", h.reloadCount.Load(), "took", time.Since(start).Round(time.Microsecond).String())
	return nil
}

// reloadError is the last reload that failed (the admin page shows it).
type reloadError struct {
	msg  string
	at   time.Time
	why  string
	seen int64 // reloads that had succeeded before it
}

// reloadFailed logs and counts a reload that kept the running version.
func (h *Host) reloadFailed(why string, err error) {
	h.errorCount.Add(1)
	h.reloadFailures.Add(1)
	h.lastReloadErr.Store(&reloadError{msg: err.Error(), at: time.Now(), why: why, seen: h.reloadCount.Load()})
	h.log.Error("reload failed, keeping the running version", "why", why, "err", err.Error())
}

func firstError(errs []error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// discard closes instances that will not run (their load failed somewhere).
func (h *Host) discard(insts []*instance) {
	for i, inst := range insts {
		if inst != nil {
			h.all[i].runSync(func() { inst.close() })
		}
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// activate switches every worker to its new instance, in order with the
// events already queued.
func (h *Host) activate(insts []*instance) {
	var wg sync.WaitGroup
	for i, w := range h.all {
		wg.Add(1)
		inst := insts[i]
		w.q.post(event{fn: func() {
			defer wg.Done()
			w.swap(inst)
		}})
	}
	wg.Wait()
}
