package main

import (
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The cluster section: the room broadcast with its clients spread over
// the nodes of a cluster (-cluster-nodes, 3), against the same load on one
// node, and Centrifugo v6 with its NATS broker on as many nodes as the
// field's reference.
//
// Each row starts its processes, runs the main load (-cluster-clients
// clients, client i on node i % nodes, -cluster-senders of them sending
// -cluster-rate msgs/s in all), and, on the rows of several nodes, then
// the low load (-cluster-low-clients clients, -cluster-low-rate msgs/s)
// whose deliveries are counted apart by whether the receiving client is
// on the sender's node (in-node) or on another (cross-node). CPU and
// memory are summed over the row's server processes; Centrifugo's
// nats-server is a column of its own.

// clusterKind says how a cluster row runs (serverKind.cluster).
type clusterKind struct {
	single     bool   // one node, no cluster flags (the baseline of the same run)
	script     string // imscript: tests/bench/SCRIPT
	centrifugo bool   // Centrifugo ×nodes + one nats-server
}

// The Centrifugo and nats-server versions the bench builds (go install
// MODULE@VERSION into its temp dir) when -centrifugo / -nats-server name
// no binary.
const (
	centrifugoModule = "github.com/centrifugal/centrifugo/v6"
	centrifugoWant   = "v6.9.1"
	natsServerModule = "github.com/nats-io/nats-server/v2"
	natsServerWant   = "v2.15.2"
)

var clusterKinds = []serverKind{
	clusterImscript("lua-single", "lua", "imscript Lua, one node", "ws_room.lua", true),
	clusterImscript("lua-cluster", "lua", "imscript Lua, cluster (embedded NATS, routes)", "ws_room.lua", false),
	clusterImscript("js-single", "js", "imscript JS, one node", "ws_room.js", true),
	clusterImscript("js-cluster", "js", "imscript JS, cluster (embedded NATS, routes)", "ws_room.js", false),
	{key: "centrifugo", rowOf: "centrifugo", label: "Centrifugo " + centrifugoWant + " + nats-server (NATS broker)",
		cluster: &clusterKind{centrifugo: true},
		line: func(int) string {
			return fmt.Sprintf("GOBIN=$T/ext go install %s@%s && GOBIN=$T/ext go install %s@%s && $T/ext/nats-server -a 127.0.0.1 -p $N & $T/ext/centrifugo -c $T/centrifugo-$i.json "+
				"& (for i in 1 2 …; its config, written by the bench: http_server 127.0.0.1:$P_i, node.name c$i, broker nats at nats://127.0.0.1:$N, client.insecure, subscribe and publish allowed in channels without namespace, usage_stats disabled)",
				centrifugoModule, centrifugoWant, natsServerModule, natsServerWant)
		}},
}

func clusterImscript(key, rowOf, label, script string, single bool) serverKind {
	return serverKind{key: key, rowOf: rowOf, label: label, cluster: &clusterKind{single: single, script: script},
		line: func(workers int) string {
			args := imscriptArgs(workers, "tests/bench/"+script)
			head, file := strings.Join(args[:len(args)-1], " "), args[len(args)-1]
			if single {
				return fmt.Sprintf("PORT=$P HISTORY=$H $T/imscript %s $DATA %s", head, file)
			}
			return fmt.Sprintf("on every node i: PORT=$P_i HISTORY=$H $T/imscript %s --node n$i --data $T/cluster-%s-n$i --cluster 127.0.0.1:$R_i --peers 127.0.0.1:$R_1,127.0.0.1:$R_2,… %s",
				head, key, file)
		}}
}

// clusterResult is one run of a cluster row.
type clusterResult struct {
	run   int // which -cluster-repeat run
	nodes int
	main  *roomResult // the main load; pss and rss summed over the nodes
	// backend: Centrifugo's nats-server, its memory after the main load
	backendRSS, backendPSS int64
	low                    *roomLoad // the low load (rows of several nodes)
	lowCPU                 cpuUse
	lowErr                 string
}

// group is the processes of one cluster row.
type group struct {
	nodes   []*server
	backend *server // nats-server, or nil
	addrs   []netip.AddrPort
}

func (g *group) pids() []int {
	var p []int
	for _, s := range g.nodes {
		p = append(p, s.pid)
	}
	return p
}

func (g *group) backendPIDs() []int {
	if g.backend == nil {
		return nil
	}
	return []int{g.backend.pid}
}

// alive reports whether every process still runs, and names one that
// does not.
func (g *group) alive() (bool, string) {
	for i, s := range g.nodes {
		if !s.alive() {
			return false, fmt.Sprintf("node %d exited (%v):\n%s", i+1, s.err, s.log.String())
		}
	}
	if g.backend != nil && !g.backend.alive() {
		return false, fmt.Sprintf("nats-server exited (%v):\n%s", g.backend.err, g.backend.log.String())
	}
	return true, ""
}

// logs is the end of every node's output.
func (g *group) logs() string {
	var b strings.Builder
	for i, s := range g.nodes {
		if l := strings.TrimSpace(s.log.String()); l != "" {
			fmt.Fprintf(&b, "[node %d] %s\n", i+1, l)
		}
	}
	return b.String()
}

// stop ends the nodes together, then the nats-server.
func (g *group) stop() {
	var wg sync.WaitGroup
	for _, s := range g.nodes {
		wg.Go(s.stop)
	}
	wg.Wait()
	if g.backend != nil {
		g.backend.stop()
	}
}

// nodesOf is how many nodes row k runs.
func (o *options) nodesOf(k serverKind) int {
	if k.cluster.single {
		return 1
	}
	return o.clusterNodes
}

// startGroup starts row k's processes and waits until every node listens.
// The nodes start together: a node of a cluster may wait for its peers
// before it listens.
func startGroup(o *options, b *builds, k serverKind) (*group, error) {
	n := o.nodesOf(k)
	g := &group{}
	ok := false
	defer func() {
		if !ok {
			g.stop()
		}
	}()
	ports := make([]int, n)
	routes := make([]int, n)
	for i := range n {
		var err error
		if ports[i], err = freePort(); err != nil {
			return nil, err
		}
		if routes[i], err = freePort(); err != nil {
			return nil, err
		}
	}
	var cmds []*exec.Cmd
	switch {
	case k.cluster.centrifugo:
		if b.centErr != nil {
			return nil, b.centErr
		}
		np, err := freePort()
		if err != nil {
			return nil, err
		}
		ns, err := launch("nats-server", exec.Command(b.natsServer, "-a", "127.0.0.1", "-p", strconv.Itoa(np)), np)
		if err != nil {
			return nil, err
		}
		g.backend = ns
		for i := range n {
			path := filepath.Join(b.dir, fmt.Sprintf("centrifugo-%d.json", i+1))
			cfg, err := centrifugoConfig(ports[i], np, i+1)
			if err != nil {
				return nil, err
			}
			if err := os.WriteFile(path, cfg, 0o644); err != nil {
				return nil, err
			}
			cmd := exec.Command(b.centrifugo, "-c", path)
			cmd.Env = append(os.Environ(), b.env...)
			cmds = append(cmds, cmd)
		}
	default:
		var peers []string
		for _, r := range routes {
			peers = append(peers, "127.0.0.1:"+strconv.Itoa(r))
		}
		for i := range n {
			script := filepath.Join(b.root, "tests", "bench", k.cluster.script)
			args := imscriptArgs(b.workers, script)
			flags := []string{}
			dir := filepath.Join(b.dir, "cluster-"+k.key)
			if n > 1 {
				dir += fmt.Sprintf("-n%d", i+1)
				flags = append(flags, "--node", fmt.Sprintf("n%d", i+1), "--data", dir,
					"--cluster", "127.0.0.1:"+strconv.Itoa(routes[i]), "--peers", strings.Join(peers, ","))
			} else if o.clusterHistory > 0 {
				flags = append(flags, "--data", dir)
			}
			_ = os.RemoveAll(dir)
			args = append(append(slices.Clone(args[:len(args)-1]), flags...), args[len(args)-1])
			cmd := exec.Command(b.imscript, args...)
			cmd.Env = append(append(os.Environ(), b.env...), "PORT="+strconv.Itoa(ports[i]), "HISTORY="+strconv.Itoa(o.clusterHistory))
			cmds = append(cmds, cmd)
		}
	}
	for i, cmd := range cmds {
		cmd.Dir = b.root
		s, err := spawn(fmt.Sprintf("%s node %d", k.key, i+1), cmd, ports[i])
		if err != nil {
			return nil, err
		}
		g.nodes = append(g.nodes, s)
		g.addrs = append(g.addrs, s.addr)
	}
	for i, s := range g.nodes {
		if err := s.waitListen(fmt.Sprintf("%s node %d", k.key, i+1), max(30*time.Second, o.clusterJoin)); err != nil {
			return nil, err
		}
	}
	ok = true
	return g, nil
}

// centrifugoConfig is the config file of Centrifugo node i (v6 format):
// listening on 127.0.0.1:port, the NATS broker at natsPort, anonymous
// clients that may subscribe to and publish into channels without a
// namespace (client.insecure allows all of that on its own; the channel
// options say so as well), no usage stats sent, logging warnings only.
// No history: Centrifugo's NATS broker keeps none.
func centrifugoConfig(port, natsPort, i int) ([]byte, error) {
	cfg := map[string]any{
		"http_server": map[string]any{"address": "127.0.0.1", "port": port},
		"log":         map[string]any{"level": "warn"},
		"node":        map[string]any{"name": fmt.Sprintf("c%d", i)},
		"broker": map[string]any{"enabled": true, "type": "nats",
			"nats": map[string]any{"url": fmt.Sprintf("nats://127.0.0.1:%d", natsPort)}},
		"client": map[string]any{"insecure": true, "allow_anonymous_connect_without_token": true},
		"channel": map[string]any{"without_namespace": map[string]any{
			"allow_subscribe_for_anonymous": true, "allow_subscribe_for_client": true,
			"allow_publish_for_anonymous": true, "allow_publish_for_subscriber": true, "allow_publish_for_client": true,
		}},
		"usage_stats": map[string]any{"disabled": true},
	}
	return json.MarshalIndent(cfg, "", "  ")
}

// prepareCentrifugo finds or builds the Centrifugo and nats-server
// binaries, when the centrifugo row is selected. A failure fails only
// that row (b.centErr says why).
func prepareCentrifugo(o *options, b *builds) {
	if _, ok := findKind(o.selected(secCluster), "centrifugo"); !ok || !o.has(secCluster) {
		return
	}
	dir := filepath.Join(b.dir, "ext")
	get := func(flagPath, name, module, version string) (string, string, error) {
		if flagPath != "" {
			p, err := filepath.Abs(flagPath)
			if err != nil {
				return "", "", err
			}
			if st, err := os.Stat(p); err != nil || st.Mode().Perm()&0o111 == 0 {
				return "", "", fmt.Errorf("%s is not an executable file (%v)", p, err)
			}
			return p, binaryVersion(p), nil
		}
		logf("building %s %s (go install %s@%s into %s)", name, version, module, version, dir)
		start := time.Now()
		cmd := exec.Command("go", "install", module+"@"+version)
		cmd.Dir = b.dir
		cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("go install %s@%s: %v\n%s", module, version, err, clip(out, 2000))
		}
		logf("built %s in %s", name, time.Since(start).Round(time.Second))
		p := filepath.Join(dir, name)
		return p, binaryVersion(p), nil
	}
	var err error
	if b.centrifugo, b.centVersion, err = get(o.centrifugo, "centrifugo", centrifugoModule, centrifugoWant); err != nil {
		b.centErr = fmt.Errorf("no Centrifugo binary, the row is skipped: %w", err)
		logf("%v", b.centErr)
		return
	}
	if b.natsServer, b.natsVersion, err = get(o.natsServer, "nats-server", natsServerModule, natsServerWant); err != nil {
		b.centErr = fmt.Errorf("no nats-server binary, the Centrifugo row is skipped: %w", err)
		logf("%v", b.centErr)
	}
}

// binaryVersion is a Go binary's main module and version from its build
// info ("github.com/centrifugal/centrifugo/v6 v6.9.1"), or "" when it has
// none.
func binaryVersion(path string) string {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(bi.Main.Path + " " + bi.Main.Version)
}

// groupWindow samples the CPU of a row's processes, this process's and the
// machine's over a measured window.
type groupWindow struct {
	pids, backends []int
	s0, b0         []procSample
	l0             time.Duration
	m0             machineCPU
	p0             procTimes
	busy           time.Duration // the -busy processes' CPU
}

func openGroupWindow(g *group) *groupWindow {
	w := &groupWindow{pids: g.pids(), backends: g.backendPIDs(), p0: scanProcs()}
	for _, p := range w.backends {
		w.b0 = append(w.b0, sampleProc(p))
	}
	for _, p := range w.pids {
		w.s0 = append(w.s0, sampleProc(p))
	}
	w.l0, w.m0, w.busy = selfCPU(), sampleMachine(), busyCPU()
	return w
}

// close is what the window used: srv the nodes' CPU summed, backend the
// nats-server's.
func (w *groupWindow) close() cpuUse {
	var s1, b1 []procSample
	for _, p := range w.pids {
		s1 = append(s1, sampleProc(p))
	}
	l1, m1, busy1 := selfCPU(), sampleMachine(), busyCPU()
	for _, p := range w.backends {
		b1 = append(b1, sampleProc(p))
	}
	p1 := scanProcs()
	u := cpuUse{wall: s1[0].at.Sub(w.s0[0].at)}
	sec := u.wall.Seconds()
	for i := range s1 {
		u.srv += (s1[i].cpu - w.s0[i].cpu).Seconds() / sec
		u.syscalls += (s1[i].syscr - w.s0[i].syscr) + (s1[i].syscw - w.s0[i].syscw)
		u.ctxSwitches += s1[i].ctxSwitches - w.s0[i].ctxSwitches
	}
	for i := range b1 {
		u.backend += max(0, (b1[i].cpu-w.b0[i].cpu).Seconds()/sec)
	}
	u.load = (l1 - w.l0).Seconds() / sec
	u.idle = (m1.idle - w.m0.idle).Seconds() / sec
	u.busy = max(0, (busy1-w.busy).Seconds()/sec)
	u.other = max(0, (m1.busy-w.m0.busy).Seconds()/sec-u.srv-u.load-u.backend-u.busy)
	skip := append(append(append([]int{os.Getpid()}, w.pids...), w.backends...), busyPids...)
	u.busiest = busiestOthers(w.p0, p1, u.wall, skip...)
	return u
}

// clusterRun runs one cluster row: its processes, the main load, and on
// rows of several nodes the low load.
func clusterRun(o *options, b *builds, k serverKind, rep int, res *results) {
	n := o.nodesOf(k)
	run := ""
	if o.clusterRepeat > 1 {
		run = fmt.Sprintf("run %d: ", rep)
	}
	logf("cluster %s: %sstarting %d node(s)", k.key, run, n)
	start := time.Now()
	g, err := startGroup(o, b, k)
	if err != nil {
		logf("cluster %s: %s%v", k.key, run, err)
		res.fail(secCluster, k.key, run+err.Error())
		return
	}
	defer g.stop()
	logf("cluster %s: %d node(s) listening after %s", k.key, n, time.Since(start).Round(time.Millisecond))
	proto := roomRaw
	if k.cluster.centrifugo {
		proto = roomCentrifugo
	}
	cr := &clusterResult{nodes: n, run: rep}
	r := &roomResult{rate: o.clusterRate, clients: o.clusterClients, run: rep}
	var w *groupWindow
	spec := roomSpec{addrs: g.addrs, proto: proto, clients: o.clusterClients, senders: o.clusterSenders, threads: o.threads,
		size: o.size, rate: float64(o.clusterRate), warmup: o.roomWarmup, duration: o.clusterDuration, drain: o.roomDrain,
		joinWait:  o.clusterJoin,
		onMeasure: func() { w = openGroupWindow(g) },
		onSent:    func() { r.cpu = w.close() },
		onDone: func() {
			for _, s := range g.nodes {
				if m, err := readMem(s.pid); err == nil {
					r.pss += m.pss
					r.rss += m.rss
				}
			}
			if g.backend != nil {
				if m, err := readMem(g.backend.pid); err == nil {
					cr.backendPSS, cr.backendRSS = m.pss, m.rss
				}
			}
		},
	}
	load, err := runRoom(spec)
	if err == nil {
		if ok, why := g.alive(); !ok {
			err = fmt.Errorf("%s", why)
		}
	}
	if err != nil {
		logf("cluster %s %s%d msgs/s: %v", k.key, run, o.clusterRate, err)
		res.fail(secCluster, k.key, fmt.Sprintf("%s%d msgs/s: %v\n%s", run, o.clusterRate, err, g.logs()))
		return
	}
	r.roomLoad = load
	r.disturbed = r.cpu.other > o.maxOther
	cr.main = r
	res.cluster[k.key] = append(res.cluster[k.key], cr)
	note := ""
	if r.disturbed {
		note = "  DISTURBED by " + orDash(r.cpu.busiest)
	}
	backend := ""
	if g.backend != nil {
		backend = fmt.Sprintf(", nats-server %.2f", r.cpu.backend)
	}
	logf("cluster %-11s %s%d node(s), %d msgs/s in: all joined after %s, %d sent, %.0f deliveries/s, %d of %d delivered after %s drain, lost %d, dup %d, p50 %s p99 %s max %s; servers %.2f%s, load %.2f, other %.2f cores; RSS %s; %d broken%s%s",
		k.key, run, n, o.clusterRate, load.joinedIn.Round(time.Millisecond), r.sent, r.deliveryRate(), r.received, r.expected, r.drained.Round(time.Millisecond), r.lost, r.dups,
		fmtLongLatency(r.hist.quantile(0.5)), fmtLongLatency(r.hist.quantile(0.99)), fmtLongLatency(time.Duration(r.hist.max)),
		r.cpu.srv, backend, r.cpu.load, r.cpu.other, fmtKiB(r.rss), r.broken, errNote(r.errs), note)
	if n < 2 {
		return
	}
	var lw *groupWindow
	low, err := runRoom(roomSpec{addrs: g.addrs, proto: proto, clients: o.clusterLowClients, senders: o.clusterSenders, threads: o.threads,
		size: o.size, rate: float64(o.clusterLowRate), warmup: o.roomWarmup, duration: o.clusterLowDur, drain: o.roomDrain,
		joinWait: o.clusterJoin, split: true,
		onMeasure: func() { lw = openGroupWindow(g) },
		onSent:    func() { cr.lowCPU = lw.close() },
	})
	if err == nil {
		if ok, why := g.alive(); !ok {
			err = fmt.Errorf("%s", why)
		}
	}
	if err != nil {
		logf("cluster %s %slow load: %v", k.key, run, err)
		cr.lowErr = err.Error()
		res.fail(secCluster, k.key, fmt.Sprintf("%slow load, %d msgs/s: %v\n%s", run, o.clusterLowRate, err, g.logs()))
		return
	}
	cr.low = low
	logf("cluster %-11s %slow load, %d clients, %d msgs/s in: %d sent, lost %d, dup %d; in-node p50 %s p99 %s (%d); cross-node p50 %s p99 %s (%d)%s",
		k.key, run, o.clusterLowClients, o.clusterLowRate, low.sent, low.lost, low.dups,
		fmtLongLatency(low.inNode.quantile(0.5)), fmtLongLatency(low.inNode.quantile(0.99)), low.inNode.total,
		fmtLongLatency(low.crossNode.quantile(0.5)), fmtLongLatency(low.crossNode.quantile(0.99)), low.crossNode.total, errNote(low.errs))
}
