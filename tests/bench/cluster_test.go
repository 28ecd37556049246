package main

import (
	"encoding/json"
	"flag"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// socketPair is a connected pair of non-blocking stream sockets: the
// bench's side (a roomConn's fd) and the server's.
func socketPair(t *testing.T) (client, srv int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = unix.Close(fds[0]); _ = unix.Close(fds[1]) })
	return fds[0], fds[1]
}

// readClientFrame reads one masked client frame from fd and unmasks it.
func readClientFrame(t *testing.T, fd int) []byte {
	t.Helper()
	buf := make([]byte, 4096)
	deadline := time.Now().Add(2 * time.Second)
	got := 0
	for time.Now().Before(deadline) {
		n, err := unix.Read(fd, buf[got:])
		if n > 0 {
			got += n
		}
		if got >= 2 {
			size, h := int(buf[1]&0x7F), 2
			if size == 126 {
				size, h = int(buf[2])<<8|int(buf[3]), 4
			}
			if got >= h+4+size {
				key := buf[h : h+4]
				p := make([]byte, size)
				for i := range p {
					p[i] = buf[h+4+i] ^ key[i&3]
				}
				return p
			}
		}
		if err != nil && err != unix.EAGAIN {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no whole frame within 2s (%d bytes)", got)
	return nil
}

func benchPayload(k byte, seq uint32, node int, size int) []byte {
	p := make([]byte, size)
	for i := range p {
		p[i] = '.'
	}
	p[0] = k
	hex8(p[1:9], uint64(seq))
	hex16(p[9:25], uint64(nanotime()-int64(time.Millisecond)))
	p[25] = byte('0' + node)
	return p
}

func TestCentrifugoFrames(t *testing.T) {
	cfd, sfd := socketPair(t)
	var probes [maxProbes]atomic.Int32
	r := &roomReader{counts: make([]uint32, 8), probes: &probes, size: 64, proto: roomCentrifugo, split: true}
	c := &roomConn{fd: cfd, node: 2, key: [4]byte{1, 2, 3, 4}}
	push := func(p []byte) string {
		return `{"push":{"channel":"room","pub":{"data":"` + string(p) + `","info":{"user":"","client":"x"}}}}`
	}
	// Replies to connect and subscribe, a probe, a ping and two measured
	// messages in one frame, newline-separated, as Centrifugo batches them.
	frame := strings.Join([]string{
		`{"id":1,"connect":{"client":"x","version":"6","ping":25,"pong":true}}`,
		`{"id":2,"subscribe":{}}`,
		push(benchPayload('P', 3, 0, 64)),
		`{}`,
		push(benchPayload('M', 5, 2, 64)),
		push(benchPayload('M', 6, 1, 64)),
		`{"id":7,"publish":{}}`,
		`{"push":{"channel":"room","join":{"info":{"user":"","client":"y"}}}}`,
	}, "\n")
	d, err := r.centFrame(c, []byte(frame), nanotime())
	if err != nil || d != 2 {
		t.Fatalf("delivered %d, %v; want 2", d, err)
	}
	if probes[3].Load() != 1 || r.counts[5] != 1 || r.counts[6] != 1 {
		t.Errorf("probe %d, counts %v", probes[3].Load(), r.counts)
	}
	// Seq 5 came from node 2 (the client's own), seq 6 from node 1.
	if r.inNode.total != 1 || r.cross.total != 1 || r.hist.total != 2 {
		t.Errorf("in-node %d, cross-node %d, all %d", r.inNode.total, r.cross.total, r.hist.total)
	}
	if lat := r.hist.quantile(0.5); lat < time.Millisecond || lat > time.Second {
		t.Errorf("latency %s", lat)
	}
	if pong := readClientFrame(t, sfd); string(pong) != "{}" {
		t.Errorf("pong %q", pong)
	}
	for _, bad := range []string{
		`{"id":2,"error":{"code":103,"message":"permission denied"}}`,
		`{"push":{"disconnect":{"code":3501,"reason":"bad request"}}}`,
		push([]byte("M0000")),
	} {
		if _, err := r.centFrame(c, []byte(bad), nanotime()); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestCentrifugoPublish(t *testing.T) {
	cfd, sfd := socketPair(t)
	c := &roomConn{fd: cfd, node: 1, key: [4]byte{9, 8, 7, 6}}
	s := &roomSender{size: 64, proto: roomCentrifugo}
	for want := uint64(3); want <= 4; want++ {
		if err := s.send(c, 'M', 0x2A); err != nil {
			t.Fatal(err)
		}
		var cmd struct {
			ID      uint64 `json:"id"`
			Publish struct {
				Channel string `json:"channel"`
				Data    string `json:"data"`
			} `json:"publish"`
		}
		f := readClientFrame(t, sfd)
		if err := json.Unmarshal(f, &cmd); err != nil {
			t.Fatalf("%q: %v", f, err)
		}
		d := cmd.Publish.Data
		if cmd.ID != want || cmd.Publish.Channel != "room" || len(d) != 64 || d[0] != 'M' || d[1:9] != "0000002a" || d[25] != '1' {
			t.Errorf("command %+v", cmd)
		}
	}
	// The raw protocol sends the payload alone.
	s = &roomSender{size: 64}
	if err := s.send(c, 'P', 1); err != nil {
		t.Fatal(err)
	}
	if f := readClientFrame(t, sfd); len(f) != 64 || f[0] != 'P' || f[25] != '1' {
		t.Errorf("raw frame %q", f)
	}
}

func TestCentrifugoConfig(t *testing.T) {
	b, err := centrifugoConfig(8001, 4222, 2)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		HTTPServer struct {
			Address string `json:"address"`
			Port    int    `json:"port"`
		} `json:"http_server"`
		Node struct {
			Name string `json:"name"`
		} `json:"node"`
		Broker struct {
			Enabled bool   `json:"enabled"`
			Type    string `json:"type"`
			NATS    struct {
				URL string `json:"url"`
			} `json:"nats"`
		} `json:"broker"`
		Client struct {
			Insecure bool `json:"insecure"`
		} `json:"client"`
		Channel struct {
			WithoutNamespace map[string]bool `json:"without_namespace"`
		} `json:"channel"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPServer.Address != "127.0.0.1" || cfg.HTTPServer.Port != 8001 || cfg.Node.Name != "c2" || !cfg.Broker.Enabled || cfg.Broker.Type != "nats" ||
		cfg.Broker.NATS.URL != "nats://127.0.0.1:4222" || !cfg.Client.Insecure || !cfg.Channel.WithoutNamespace["allow_publish_for_subscriber"] {
		t.Errorf("config %s", b)
	}
}

func TestClusterSelection(t *testing.T) {
	o, err := parseArgs(nil, flag.ContinueOnError)
	if err != nil {
		t.Fatal(err)
	}
	if o.has(secCluster) {
		t.Error("the cluster section is in the default list")
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"-bench", "cluster"}, []string{"lua-single", "lua-cluster", "js-single", "js-cluster", "centrifugo"}},
		{[]string{"-bench", "cluster", "-rows", "lua,centrifugo"}, []string{"lua-single", "lua-cluster", "centrifugo"}},
		{[]string{"-bench", "cluster", "-rows", "js-cluster"}, []string{"js-cluster"}},
		{[]string{"-bench", "cluster", "-rows", "node"}, nil},
	} {
		o, err := parseArgs(c.args, flag.ContinueOnError)
		if err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		var keys []string
		for _, k := range o.selected(secCluster) {
			keys = append(keys, k.key)
		}
		if !slices.Equal(keys, c.want) {
			t.Errorf("%q: rows %v, want %v", c.args, keys, c.want)
		}
	}
	if _, err := parseArgs([]string{"-cluster-nodes", "1"}, flag.ContinueOnError); err == nil {
		t.Error("-cluster-nodes 1 accepted")
	}
	if got := senderList(1000, 10); got != "0, 100, 200, 300, 400, 500, 600, 700, 800, 900" {
		t.Errorf("senders %s", got)
	}
}

func TestClusterSummaries(t *testing.T) {
	o, err := parseArgs([]string{"-bench", "cluster"}, flag.ContinueOnError)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(ms int64, other float64, lost uint64) *clusterResult {
		h := func(d int64) *logHist {
			var l logHist
			l.record(d * int64(time.Millisecond))
			return &l
		}
		main := &roomResult{roomLoad: &roomLoad{hist: h(ms), sent: 1, expected: 10, received: 10 - lost, lost: lost}, cpu: cpuUse{other: other}, disturbed: other > o.maxOther}
		return &clusterResult{main: main, low: &roomLoad{inNode: h(ms), crossNode: h(2 * ms), hist: h(ms), lost: lost}, lowCPU: cpuUse{other: other}}
	}
	res := &results{cluster: map[string][]*clusterResult{"lua-cluster": {mk(10, 0, 0), mk(500, 1, 3), mk(20, 0, 0)}}}
	m, ok := clusterMain(res, "lua-cluster")
	if !ok || m.lost != 3 || m.p99 < 14*time.Millisecond || m.p99 > 16*time.Millisecond || m.disturbed {
		t.Errorf("main %+v", m)
	}
	l, ok := clusterLow(o, res, "lua-cluster")
	if !ok || l.runs != 2 || l.lost != 3 || l.ratio < 1.9 || l.ratio > 2.1 || l.crossMax != time.Second || l.disturbed {
		t.Errorf("low %+v", l)
	}
}
