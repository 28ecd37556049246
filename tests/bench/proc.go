package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Readers of /proc for the server under test. Everything here is Linux.

// memInfo is a process's resident memory, in KiB.
type memInfo struct {
	rss, pss int64
}

// readMem reads Rss and Pss from /proc/PID/smaps_rollup.
func readMem(pid int) (memInfo, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return memInfo{}, err
	}
	var m memInfo
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "Rss:":
			m.rss = v
		case "Pss:":
			m.pss = v
		}
	}
	if m.rss == 0 {
		return m, fmt.Errorf("no Rss in /proc/%d/smaps_rollup", pid)
	}
	return m, nil
}

// countFDs is how many descriptors the process holds.
func countFDs(pid int) int {
	d, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(d)
}

// procSample is a snapshot of a process's CPU time, read/write-family
// syscalls and context switches (summed over its threads).
type procSample struct {
	at          time.Time
	cpu         time.Duration
	syscr       int64
	syscw       int64
	ctxSwitches int64
}

const clockTicks = 100 // USER_HZ on Linux

// sampleProc samples pid and its descendants, summed: a server that runs
// as several processes (nginx: a master and its workers) counts whole.
func sampleProc(pid int) procSample {
	s := procSample{at: time.Now()}
	for _, p := range procTree(pid) {
		one := sampleOne(p)
		s.cpu += one.cpu
		s.syscr += one.syscr
		s.syscw += one.syscw
		s.ctxSwitches += one.ctxSwitches
	}
	return s
}

// procTree is pid and its descendants, from /proc/PID/task/TID/children
// (children that are gone by the time it is read are not there).
func procTree(pid int) []int {
	pids := []int{pid}
	for i := 0; i < len(pids); i++ {
		files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pids[i]))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			for _, field := range strings.Fields(string(b)) {
				if n, err := strconv.Atoi(field); err == nil && !slices.Contains(pids, n) {
					pids = append(pids, n)
				}
			}
		}
	}
	return pids
}

// sampleOne samples one process (all its threads).
func sampleOne(pid int) procSample {
	s := procSample{at: time.Now()}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// Fields after the command name (which may hold spaces).
		if i := bytes.LastIndexByte(b, ')'); i >= 0 {
			f := strings.Fields(string(b[i+1:]))
			// f[0] is field 3 (state); utime is field 14, stime 15.
			if len(f) > 13 {
				ut, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				s.cpu = time.Duration(ut+st) * time.Second / clockTicks
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ": ")
			if !ok {
				continue
			}
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			switch k {
			case "syscr":
				s.syscr = n
			case "syscw":
				s.syscw = n
			}
		}
	}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && (k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches") {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				s.ctxSwitches += n
			}
		}
	}
	return s
}

// machineCPU is the whole machine's busy and idle CPU time (all cores),
// from the first line of /proc/stat.
type machineCPU struct {
	busy, idle time.Duration
}

func sampleMachine() machineCPU {
	var m machineCPU
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return m
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return m
	}
	for i, v := range f[1:] {
		if i >= 8 { // guest time is already in user
			break
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		d := time.Duration(n) * time.Second / clockTicks
		if i == 3 || i == 4 { // idle, iowait
			m.idle += d
		} else {
			m.busy += d
		}
	}
	return m
}

// selfCPU is the CPU time this process (the load generator) has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// raiseNoFile sets the soft RLIMIT_NOFILE to the hard limit. Because the
// bench sets it explicitly, the servers it starts inherit the raised limit
// (Go restores the original soft limit for children only when the program
// never set it itself).
func raiseNoFile() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	rl.Cur = rl.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	return rl.Cur, nil
}

// procTimes maps every process on the machine to its command name and CPU
// time, to name what disturbed a run.
type procTimes map[int]procTime

type procTime struct {
	comm string
	cpu  time.Duration
}

func scanProcs() procTimes {
	pt := procTimes{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return pt
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		i, j := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if i < 0 || j < i {
			continue
		}
		f := strings.Fields(string(b[j+1:]))
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		pt[pid] = procTime{comm: string(b[i+1 : j]), cpu: time.Duration(ut+st) * time.Second / clockTicks}
	}
	return pt
}

// busiestOthers names the processes, other than those in skip, that used
// the most CPU between two scans (processes that exited in between are
// not seen).
func busiestOthers(before, after procTimes, wall time.Duration, skip ...int) string {
	type use struct {
		name  string
		cores float64
	}
	var list []use
	for pid, a := range after {
		if slices.Contains(skip, pid) {
			continue
		}
		d := a.cpu - before[pid].cpu
		if d <= 0 {
			continue
		}
		list = append(list, use{fmt.Sprintf("%s[%d]", a.comm, pid), d.Seconds() / wall.Seconds()})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].cores > list[j].cores })
	var parts []string
	for i, u := range list {
		if i == 3 || u.cores < 0.05 {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.2f", u.name, u.cores))
	}
	return strings.Join(parts, ", ")
}
