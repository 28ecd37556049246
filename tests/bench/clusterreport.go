package main

import (
	"fmt"
	"strings"
	"time"
)

// clusterReport writes the cluster section's tables.
func clusterReport(b *strings.Builder, o *options, res *results) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("\n## Cluster: room broadcast over %d nodes\n\n", o.clusterNodes)
	p("%s", busyLine(o))
	hist := "no history on any row (HISTORY=0; Centrifugo keeps none by default)"
	if o.clusterHistory > 0 {
		hist = fmt.Sprintf("the imscript rows keep the room's last %d messages (HISTORY=%d; the one-node rows on disk with --data, as the cluster nodes, whose --data the cluster needs); "+
			"the Centrifugo row keeps none (its NATS broker has no history)", o.clusterHistory, o.clusterHistory)
	}
	p("The room broadcast of the room section, with its %s WebSocket clients spread over the nodes of a cluster: client i connects to node i mod %d, "+
		"and %d of them send (clients %s: spread over the nodes too), %s msgs/s in all, so %s deliveries/s. "+
		"The one-node rows are the same script on one process without cluster flags (the memory broker; with -cluster-history, the NATS broker of one node with --data), the same load, in the same run. "+
		"imscript's cluster: %d `imscript run` processes, each with `--node`, `--data`, `--cluster` (its route address) and `--peers` (every node's): the NATS broker, embedded NATS servers joined by routes. "+
		"Centrifugo: %d `centrifugo` processes (%s) with the NATS broker, all on one nats-server (%s) started for the row; the clients speak Centrifugo's JSON protocol "+
		"(connect, subscribe to the channel, a sender's message is a publish command whose data is the bench's payload as a JSON string, a delivery a push whose pub.data holds it; pings answered). "+
		"Before counting, a probe sent on node 1 must reach every client on every node (waited for up to %s). "+
		"After %s of warm-up, %s measured, then up to %s of drain; lost as in the room section. History: %s. "+
		"Server CPU and memory are summed over the row's nodes, read as in the room section; Centrifugo's nats-server is its own column "+
		"(imscript's NATS servers are inside its nodes, so for a like-for-like total add it to Centrifugo's). The load generator (%d epoll reader threads and the sending goroutine) shares the cores with all of them.\n\n",
		fmtInt(o.clusterClients), o.clusterNodes, o.clusterSenders, senderList(o.clusterClients, o.clusterSenders), fmtInt(o.clusterRate), fmtRate(float64(o.clusterRate*o.clusterClients)),
		o.clusterNodes, o.clusterNodes, orDash(resVersion(res, "centrifugo")), orDash(resVersion(res, "nats")),
		o.clusterJoin, o.roomWarmup, o.clusterDuration, o.roomDrain, hist, o.threads)
	if o.clusterRepeat > 1 {
		p("Every row ran %d times (-cluster-repeat; each time on fresh processes), the rows taking turns; each cell is the median over the runs (of the undisturbed ones when there are some), "+
			"except lost and delivered / expected, from the run that lost the most, and max latency, the largest of all runs; the same for the low-load table (its ratio the median of each run's own; a run disturbed when other work took more than -max-other while it sent).\n\n", o.clusterRepeat)
	}
	p("| server | nodes | msgs/s in | deliveries/s achieved | delivered / expected | lost | p50 latency | p99 latency | max latency | server CPU, nodes summed (cores) | nats-server CPU (cores) | load generator CPU (cores) | other / idle CPU (cores) | server RSS, summed | server PSS, summed | nats-server RSS |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, k := range o.selected(secCluster) {
		n := o.nodesOf(k)
		r, ok := clusterMain(res, k.key)
		if !ok {
			p("| %s | %d | %s | failed | — | — | — | — | — | — | — | — | — | — | — | — |\n", clusterLabel(k, res), n, fmtInt(o.clusterRate))
			continue
		}
		mark := ""
		if r.disturbed {
			mark = "*"
		}
		lost := fmtInt(int(r.lost))
		if r.lost > 0 {
			lost = fmt.Sprintf("**%s** (%.1f%%)", lost, 100*float64(r.lost)/float64(max(r.expected, 1)))
		}
		backCPU, backRSS := "—", "—"
		if k.cluster.centrifugo {
			var rss []float64
			for _, cr := range res.cluster[k.key] {
				rss = append(rss, float64(cr.backendRSS))
			}
			backCPU, backRSS = fmt.Sprintf("%.2f", r.backend), fmtKiB(int64(median(rss)))
		}
		p("| %s | %d | %s | %s%s | %s / %s | %s | %s | %s | %s | %.2f | %s | %.2f | %.2f / %.2f | %s | %s | %s |\n", clusterLabel(k, res), n, fmtInt(o.clusterRate),
			fmtRate(r.rate), mark, fmtInt(int(r.received)), fmtInt(int(r.expected)), lost,
			fmtLongLatency(r.p50), fmtLongLatency(r.p99), fmtLongLatency(r.maxLat),
			r.srv, backCPU, r.load, r.other, r.idle, fmtKiB(r.rss), fmtKiB(r.pss), backRSS)
	}
	p("\nA row marked * was disturbed (other work took more than %.2f cores while sending); rows are not retried.\n", o.maxOther)

	p("\n### Cross-node vs in-node latency, low load\n\n")
	p("On every row of %d nodes, after the main load, on the same processes: %s fresh clients (client i on node i mod %d), %d of them sending (%s), %s msgs/s in for %s after %s of warm-up. "+
		"Each message names its sender's node, so every delivery counts as *in-node* (to a client on the sender's node, the sender included) or *cross-node* (to a client on another node, through the cluster). "+
		"\"cross ÷ in\" divides the p99s.\n\n",
		o.clusterNodes, fmtInt(o.clusterLowClients), o.clusterNodes, o.clusterSenders, senderList(o.clusterLowClients, o.clusterSenders), fmtInt(o.clusterLowRate), o.clusterLowDur, o.roomWarmup)
	p("| server | nodes | in-node deliveries | in-node p50 | in-node p99 | cross-node deliveries | cross-node p50 | cross-node p99 | cross ÷ in (p99) | cross-node max | lost | server CPU, summed (cores) |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, k := range o.selected(secCluster) {
		n := o.nodesOf(k)
		if n < 2 {
			continue
		}
		l, ok := clusterLow(o, res, k.key)
		if !ok {
			p("| %s | %d | failed | — | — | — | — | — | — | — | — | — |\n", clusterLabel(k, res), n)
			continue
		}
		mark := ""
		if l.disturbed {
			mark = "*"
		}
		lost := fmtInt(int(l.lost))
		if l.lost > 0 {
			lost = "**" + lost + "**"
		}
		p("| %s | %d | %s%s | %s | %s | %s | %s | %s | %.2f× | %s | %s | %.2f |\n", clusterLabel(k, res), n,
			fmtInt(int(l.inN)), mark, fmtLongLatency(l.inP50), fmtLongLatency(l.inP99),
			fmtInt(int(l.crossN)), fmtLongLatency(l.crossP50), fmtLongLatency(l.crossP99),
			l.ratio, fmtLongLatency(l.crossMax), lost, l.cpu)
	}
	p("\nA row marked * was disturbed in every run (other work took more than %.2f cores while sending).\n", o.maxOther)
	if res.centErr != "" {
		p("\nThe Centrifugo row did not run: %s\n", firstLine(res.centErr))
	}
}

// clusterMain summarizes the main load of a cluster row over its runs, as
// the room section summarizes its -room-repeat runs.
func clusterMain(res *results, key string) (roomSummary, bool) {
	var runs []*roomResult
	for _, cr := range res.cluster[key] {
		runs = append(runs, cr.main)
	}
	return summarizeRoom(runs)
}

// lowSummary is a cluster row's low load over its runs: medians of the
// undisturbed runs' (of all when every run was disturbed) deliveries,
// percentiles, p99 ratio (cross ÷ in, each run's own) and CPU; the most
// any run lost; the largest cross-node latency.
type lowSummary struct {
	runs               int
	disturbed          bool // every run was
	inN, crossN        float64
	inP50, inP99       time.Duration
	crossP50, crossP99 time.Duration
	crossMax           time.Duration
	ratio              float64
	lost               uint64
	cpu                float64
}

func clusterLow(o *options, res *results, key string) (lowSummary, bool) {
	var s lowSummary
	var all, use []*clusterResult
	for _, cr := range res.cluster[key] {
		if cr.low == nil {
			continue
		}
		all = append(all, cr)
		if cr.lowCPU.other <= o.maxOther {
			use = append(use, cr)
		}
		s.lost = max(s.lost, cr.low.lost)
		s.crossMax = max(s.crossMax, time.Duration(cr.low.crossNode.max))
	}
	if len(use) == 0 {
		use, s.disturbed = all, true
	}
	var inN, crossN, inP50, inP99, crossP50, crossP99, ratio, cpu []float64
	for _, cr := range use {
		l := cr.low
		s.runs++
		in, cross := l.inNode.quantile(0.99), l.crossNode.quantile(0.99)
		inN = append(inN, float64(l.inNode.total))
		crossN = append(crossN, float64(l.crossNode.total))
		inP50 = append(inP50, float64(l.inNode.quantile(0.5)))
		inP99 = append(inP99, float64(in))
		crossP50 = append(crossP50, float64(l.crossNode.quantile(0.5)))
		crossP99 = append(crossP99, float64(cross))
		ratio = append(ratio, float64(cross)/float64(max(in, 1)))
		cpu = append(cpu, cr.lowCPU.srv)
	}
	if s.runs == 0 {
		return s, false
	}
	s.inN, s.crossN = median(inN), median(crossN)
	s.inP50, s.inP99 = time.Duration(median(inP50)), time.Duration(median(inP99))
	s.crossP50, s.crossP99 = time.Duration(median(crossP50)), time.Duration(median(crossP99))
	s.ratio, s.cpu = median(ratio), median(cpu)
	return s, true
}

// clusterLabel is row k's label; Centrifugo's names the version its
// binary was built from (a -centrifugo binary may be another).
func clusterLabel(k serverKind, res *results) string {
	if k.cluster != nil && k.cluster.centrifugo && res.centVersion != "" {
		v := res.centVersion[strings.LastIndexByte(res.centVersion, ' ')+1:]
		return "Centrifugo " + v + " + nats-server (NATS broker)"
	}
	return k.label
}

// senderList names the sending clients: client i·clients/senders, on node
// (that) mod nodes.
func senderList(clients, senders int) string {
	senders = max(1, min(senders, clients))
	var parts []string
	for i := range senders {
		parts = append(parts, fmt.Sprint(i*clients/senders))
	}
	return strings.Join(parts, ", ")
}

func resVersion(res *results, which string) string {
	if which == "centrifugo" {
		return res.centVersion
	}
	return res.natsVersion
}

// clusterTargets writes the cluster section's "Must reach" rows.
func clusterTargets(p func(string, ...any), target func(name string, ok bool, why, measured string, pass bool), missing func(sec string, keys ...string) string, o *options, res *results) {
	p("\n## Targets of clustering (\"Must reach\")\n\n")
	p("| target | measured | result |\n|---|---|---|\n")
	lang := map[string]string{"lua": "Lua", "js": "JS"}
	cent, okC := clusterMain(res, "centrifugo")
	for _, key := range []string{"lua", "js"} {
		if _, sel := findKind(o.selected(secCluster), key+"-cluster"); !sel {
			continue
		}
		c, okCl := clusterMain(res, key+"-cluster")
		s, okOne := clusterMain(res, key+"-single")
		name := fmt.Sprintf("%d nodes, %s clients, %s msgs/s in (imscript %s): 0 lost, p99 ≤ 2× the one-node p99 of the same run, and below Centrifugo ×%d with its NATS broker in the same run",
			o.clusterNodes, fmtInt(o.clusterClients), fmtInt(o.clusterRate), lang[key], o.clusterNodes)
		_, selOne := findKind(o.selected(secCluster), key+"-single")
		_, selC := findKind(o.selected(secCluster), "centrifugo")
		why := ""
		switch {
		case !okCl:
			why = missing(secCluster, key+"-cluster")
			if why == "" {
				why = "no result (see Problems)"
			}
		case !selOne || !selC:
			why = "needs the one-node and the Centrifugo rows in the same run (-rows " + key + ",centrifugo)"
		case !okOne:
			why = "the " + key + "-single row failed (see Problems)"
		case !okC:
			why = "the centrifugo row failed or was skipped (see Problems)"
		}
		if why != "" {
			target(name, false, why, "", false)
			continue
		}
		var noisy []string
		for _, d := range []struct {
			key string
			s   roomSummary
		}{{key + "-cluster", c}, {key + "-single", s}, {"centrifugo", cent}} {
			if d.s.disturbed {
				noisy = append(noisy, d.key)
			}
		}
		disturbed := ""
		if len(noisy) > 0 {
			disturbed = "; disturbed by other work (*): " + strings.Join(noisy, ", ")
		}
		target(name, true, "", fmt.Sprintf("lost %s of %s; p99 %s vs one node %s (%.2f×) and Centrifugo %s (%.2f×)%s%s",
			fmtInt(int(c.lost)), fmtInt(int(c.expected)), fmtLongLatency(c.p99), fmtLongLatency(s.p99), float64(c.p99)/float64(max(s.p99, 1)),
			fmtLongLatency(cent.p99), float64(c.p99)/float64(max(cent.p99, 1)), repeatNote(o), disturbed),
			c.lost == 0 && c.received == c.expected && c.sent > 0 && c.p99 <= 2*s.p99 && c.p99 < cent.p99)
	}
	for _, key := range []string{"lua", "js"} {
		if _, sel := findKind(o.selected(secCluster), key+"-cluster"); !sel {
			continue
		}
		l, ok := clusterLow(o, res, key+"-cluster")
		name := fmt.Sprintf("Cross-node p99 latency at low load (%s msgs/s, %s clients over %d nodes) ≤ 2× in-node p99, same run (imscript %s)",
			fmtInt(o.clusterLowRate), fmtInt(o.clusterLowClients), o.clusterNodes, lang[key])
		if !ok {
			why := missing(secCluster, key+"-cluster")
			if why == "" {
				why = "no result (see Problems)"
			}
			target(name, false, why, "", false)
			continue
		}
		target(name, l.inP99 > 0 && l.crossP99 > 0, "no in-node or cross-node deliveries", fmt.Sprintf("cross-node p99 %s vs in-node %s (%.2f×); lost %s%s",
			fmtLongLatency(l.crossP99), fmtLongLatency(l.inP99), l.ratio, fmtInt(int(l.lost)), repeatNote(o)),
			l.ratio <= 2)
	}
}

// repeatNote says that a target's figures are medians of several runs.
func repeatNote(o *options) string {
	if o.clusterRepeat < 2 {
		return ""
	}
	return fmt.Sprintf(" (medians of %d runs; lost the most of any)", o.clusterRepeat)
}

// clusterProblems adds the cluster rows' problems to lines.
func clusterProblems(lines *[]string, o *options, res *results) {
	for _, k := range o.selected(secCluster) {
		for _, cr := range res.cluster[k.key] {
			run := ""
			if o.clusterRepeat > 1 {
				run = fmt.Sprintf(" run %d", cr.run)
			}
			for _, l := range []struct {
				what string
				r    *roomLoad
				cpu  cpuUse
			}{{"main load", cr.main.roomLoad, cr.main.cpu}, {"low load", cr.low, cr.lowCPU}} {
				if l.r == nil {
					continue
				}
				where := fmt.Sprintf("cluster %s%s %s", k.key, run, l.what)
				if l.r.broken > 0 || len(l.r.errs) > 0 {
					*lines = append(*lines, fmt.Sprintf("- %s: %d connections broke (%s)", where, l.r.broken, strings.Join(l.r.errs, "; ")))
				}
				if l.r.dups > 0 {
					*lines = append(*lines, fmt.Sprintf("- %s: %d duplicate deliveries", where, l.r.dups))
				}
				if l.r.lagging > 50*time.Millisecond {
					*lines = append(*lines, fmt.Sprintf("- %s: the sender fell up to %s behind its schedule", where, l.r.lagging.Round(time.Millisecond)))
				}
				if l.cpu.other > o.maxOther {
					*lines = append(*lines, fmt.Sprintf("- %s: disturbed, %.2f cores of other work (busiest other processes: %s)", where, l.cpu.other, orDash(l.cpu.busiest)))
				}
			}
		}
	}
}
