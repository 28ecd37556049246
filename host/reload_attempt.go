package host

import (
	"sort"
	"sync"

	"github.com/imscript/imscript/script"
)

// attempt is one version of the script being loaded on every worker: it
// shares the compiled program and the servers the version declares anew.
type attempt struct {
	prog script.Program

	mu         sync.Mutex
	newServers map[string]*Server
	deps       map[string]bool
}

func newAttempt(p script.Program) *attempt {
	return &attempt{prog: p, newServers: map[string]*Server{}, deps: map[string]bool{}}
}

func (a *attempt) dependencies() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]string, 0, len(a.deps)+1)
	out = append(out, a.prog.Path())
	for d := range a.deps {
		out = append(out, d)
	}
	sort.Strings(out[1:])
	return out
}
