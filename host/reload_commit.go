package host

import (
	"context"
	"errors"
	"time"
)

// Committing a version's server declarations, in two steps around the
// switch of the workers (activate):
//
//   - bind, before: the servers the version adds start listening, with
//     their events held (Server.post) until the version is active. If one
//     cannot (a port taken, a bad certificate), the ones just opened close
//     again and the running version stays as it was: a reload is all or
//     nothing.
//   - apply, after: kept servers take the new settings, the new servers'
//     events flow, and servers the version no longer declares close, so new
//     listeners are up before old ones go.

// commitPlan is what bind opened for apply.
type commitPlan struct {
	declared []*Server // the version's servers, in declaration order
	opened   []*Server // those that started listening
}

// bind opens the listeners first's version adds.
func (h *Host) bind(first *instance) (*commitPlan, error) {
	p := &commitPlan{}
	var errs []error
	for _, s := range first.decls {
		if !s.listening {
			if err := s.listen(); err != nil {
				errs = append(errs, err)
				continue
			}
			p.opened = append(p.opened, s)
		}
		p.declared = append(p.declared, s)
	}
	if err := errors.Join(errs...); err != nil {
		for _, s := range p.opened {
			s.stop(context.Background())
		}
		return nil, err
	}
	return p, nil
}

// apply makes the active version's declarations (the first worker's) the
// host's servers.
func (h *Host) apply(att *attempt, first *instance, p *commitPlan) {
	h.mu.Lock()
	keep := map[*Server]bool{}
	for _, s := range p.declared {
		keep[s] = true
		s.setSettings(first.declSettings[s])
	}
	if len(first.decls) > 0 {
		st := first.declSettings[first.decls[0]]
		h.maxExecMs.Store(int64(st.MaxExecMs))
		h.maxWait.Store(int64(st.MaxWaitTime * float64(time.Second)))
	}
	var removed []*Server
	for k, s := range h.servers {
		if !keep[s] {
			removed = append(removed, s)
			delete(h.servers, k)
		}
	}
	for _, s := range p.declared {
		h.servers[s.key] = s
	}
	h.order = p.declared
	decl := make([]*settings, len(p.declared))
	for i, s := range p.declared {
		decl[i] = first.declSettings[s]
	}
	h.applyChanSettings(decl)
	h.mu.Unlock()
	deps := att.dependencies()
	h.deps.Store(&deps)
	for _, s := range p.opened {
		s.openGate()
	}
	for _, s := range removed {
		h.log.Info("closing server the script no longer declares", "server", s.addr())
		s.stop(context.Background())
	}
}
