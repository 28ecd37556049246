package main

import (
	"os/exec"
	"slices"
	"strconv"
	"time"
)

// The busy variant (-busy N): N processes that each spin one core run
// beside every section, started before the section and killed after it,
// so that any section's rows are measured on a busy machine. Their CPU is
// counted apart (the busy-loop column), not as "other": a busy run is not
// a disturbed one.

// busyPids are the running busy-loop processes (none outside a section,
// or without -busy).
var busyPids []int

// busyLoop is the command of one busy-loop process: a shell loop that
// never sleeps.
var busyLoop = []string{"sh", "-c", "while :; do :; done"}

// startBusy starts -busy busy-loop processes for section sec and returns
// what stops them.
func startBusy(o *options, sec string) (stop func()) {
	if o.busy <= 0 {
		return func() {}
	}
	var cmds []*exec.Cmd
	for range o.busy {
		cmd := exec.Command(busyLoop[0], busyLoop[1:]...)
		if err := cmd.Start(); err != nil {
			logf("%s: -busy: %v", sec, err)
			break
		}
		cmds = append(cmds, cmd)
		busyPids = append(busyPids, cmd.Process.Pid)
	}
	logf("%s: %d busy-loop process(es) spinning (-busy)", sec, len(cmds))
	// Let the scheduler see them before the first row starts.
	time.Sleep(200 * time.Millisecond)
	return func() {
		for _, c := range cmds {
			_ = c.Process.Kill()
			_ = c.Wait()
			busyPids = slices.DeleteFunc(busyPids, func(p int) bool { return p == c.Process.Pid })
		}
	}
}

// busyCPU is the CPU time the busy-loop processes have used.
func busyCPU() time.Duration {
	var d time.Duration
	for _, p := range busyPids {
		d += sampleOne(p).cpu
	}
	return d
}

// busyLine says in the report that a table was measured on a busy
// machine; empty without -busy.
func busyLine(o *options) string {
	if o.busy <= 0 {
		return ""
	}
	return busyHeading(o) + ": " + busyText(o) + "\n\n"
}

func busyHeading(o *options) string {
	return "**Busy machine (-busy " + strconv.Itoa(o.busy) + ")**"
}

func busyText(o *options) string {
	what := "a process"
	if o.busy > 1 {
		what = strconv.Itoa(o.busy) + " processes"
	}
	return what + " spinning one core each (`" + busyLoop[2] + "` under `sh -c`) ran beside this section, started before it and killed after it; " +
		"the load took the cores that were left. Their CPU is in the busy-loop column of the CPU table, not in \"other\"."
}
