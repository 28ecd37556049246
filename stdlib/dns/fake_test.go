package dns_test

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"golang.org/x/net/dns/dnsmessage"

	imdns "github.com/imscript/imscript/stdlib/dns"
)

// fakeDNS is a DNS server on a loopback UDP port that knows a few names
// under .test, so that the tests never ask a real resolver:
//
//	both.test     A 192.0.2.1, AAAA 2001:db8::1
//	v6only.test   AAAA 2001:db8::2
//	broken.test   SERVFAIL
//	slow.test     no answer at all
//	anything else NXDOMAIN
//
// The module's resolver talks to it until the test ends.
func fakeDNS(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go serveDNS(pc)
	addr := pc.LocalAddr().String()
	restore := imdns.UseResolver(&net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}})
	t.Cleanup(restore)
}

func serveDNS(pc net.PacketConn) {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			continue
		}
		q, err := p.Question()
		if err != nil {
			continue
		}
		name := q.Name.String()
		if name == "slow.test." {
			continue
		}
		rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
		var answers []dnsmessage.Resource
		rr := func(body dnsmessage.ResourceBody, typ dnsmessage.Type) {
			answers = append(answers, dnsmessage.Resource{Header: dnsmessage.ResourceHeader{Name: q.Name, Type: typ, Class: dnsmessage.ClassINET, TTL: 60}, Body: body})
		}
		switch {
		case name == "broken.test.":
			rh.RCode = dnsmessage.RCodeServerFailure
		case name == "both.test." && q.Type == dnsmessage.TypeA:
			rr(&dnsmessage.AResource{A: netip.MustParseAddr("192.0.2.1").As4()}, dnsmessage.TypeA)
		case name == "both.test." && q.Type == dnsmessage.TypeAAAA:
			rr(&dnsmessage.AAAAResource{AAAA: netip.MustParseAddr("2001:db8::1").As16()}, dnsmessage.TypeAAAA)
		case name == "v6only.test." && q.Type == dnsmessage.TypeAAAA:
			rr(&dnsmessage.AAAAResource{AAAA: netip.MustParseAddr("2001:db8::2").As16()}, dnsmessage.TypeAAAA)
		case name == "both.test.", name == "v6only.test.":
		default:
			rh.RCode = dnsmessage.RCodeNameError
		}
		b := dnsmessage.NewBuilder(nil, rh)
		b.EnableCompression()
		_ = b.StartQuestions()
		_ = b.Question(q)
		_ = b.StartAnswers()
		for _, a := range answers {
			switch body := a.Body.(type) {
			case *dnsmessage.AResource:
				_ = b.AResource(a.Header, *body)
			case *dnsmessage.AAAAResource:
				_ = b.AAAAResource(a.Header, *body)
			}
		}
		msg, err := b.Finish()
		if err == nil {
			_, _ = pc.WriteTo(msg, from)
		}
	}
}
