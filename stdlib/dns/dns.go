// Package dns is imscript.dns: name lookups from scripts on net.Resolver,
// off the worker and under a timeout, settling through Call.Async.
// Failures carry a code: NOTFOUND, TIMEOUT, SERVFAIL or CANCELLED.
package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/stdlib/internal/opts"
)

const defaultTimeout = 5 * time.Second

// resolver is the system's; the tests put one on a fake server here.
var resolver = net.DefaultResolver

// Module builds imscript.dns for one instance.
func Module(script.Instance) script.Value { return script.Funcs(API.Funcs) }

// API describes imscript.dns for editors.
var API = &script.API{
	Doc: "Name lookups.",
	Funcs: map[string]script.Method{
		"lookup": {Fn: lookup, Args: "name: string, options?: {family?: integer, timeout?: number}", Returns: "async string[]", Doc: "The addresses of a name (IPv4 first)."},
	},
}

// lookup is imscript.dns.lookup(name [, {family = 4|6, timeout = s}]
// [, fn]) → the addresses as strings ("127.0.0.1", "::1"), IPv4 first as
// the resolver orders them, without duplicates. An IP literal is its own
// answer; "localhost" and the hosts file are read before DNS.
func lookup(c script.Call) {
	n := c.NArgs()
	cb := n
	if n > 0 {
		if _, ok := c.Arg(n - 1).(script.Callback); ok {
			n, cb = n-1, n-1
		}
	}
	if n < 1 {
		script.Usagef("dns.lookup: bad argument #1 (name): string expected, got no value")
	}
	name := c.Str(0, "name")
	if name == "" {
		script.Usagef("dns.lookup: bad argument #1 (name): the name is empty")
	}
	var m script.Map
	if n > 1 {
		m = c.OptTable(1, "options")
	}
	o := opts.New("dns.lookup", m, "family", "timeout")
	family := o.Int("family", 0, 0, 6)
	if family != 0 && family != 4 && family != 6 {
		script.Usagef("dns.lookup: option family: want 4 or 6, got %d", family)
	}
	timeout := o.Seconds("timeout", defaultTimeout)
	ctx := c.Instance().Context()
	c.Run(cb, func() (script.Value, error) { return resolve(ctx, name, int(family), timeout) })
}

func resolve(ctx context.Context, name string, family int, timeout time.Duration) (script.Value, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	addrs, err := resolver.LookupNetIP(ctx, "ip", name)
	if err != nil {
		return nil, failure(ctx, name, timeout, err)
	}
	seen := map[netip.Addr]bool{}
	out := script.List{}
	for _, a := range addrs {
		a = a.Unmap()
		if seen[a] || (family == 4 && !a.Is4()) || (family == 6 && !a.Is6()) {
			continue
		}
		seen[a] = true
		out = append(out, a.String())
	}
	if len(out) == 0 {
		msg := "dns.lookup " + name + ": no address"
		if family != 0 {
			msg = fmt.Sprintf("dns.lookup %s: no IPv%d address", name, family)
		}
		return nil, &script.CodedError{Msg: msg, Code: "NOTFOUND"}
	}
	return out, nil
}

func failure(ctx context.Context, name string, timeout time.Duration, err error) error {
	what := "dns.lookup " + name
	var de *net.DNSError
	isDNS := errors.As(err, &de)
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return &script.CodedError{Msg: what + ": cancelled: the script version has ended", Code: "CANCELLED", Err: err}
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || (isDNS && de.IsTimeout):
		return &script.CodedError{Msg: fmt.Sprintf("%s: timed out after %v", what, timeout), Code: "TIMEOUT", Err: err}
	case isDNS && de.IsNotFound:
		return &script.CodedError{Msg: what + ": no such host", Code: "NOTFOUND", Err: err}
	case isDNS:
		return &script.CodedError{Msg: what + ": " + de.Err, Code: "SERVFAIL", Err: err}
	}
	return &script.CodedError{Msg: what + ": " + err.Error(), Code: "SERVFAIL", Err: err}
}
