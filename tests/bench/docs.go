package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// The tables of docs/benchmark.md (-docs) are a bench run's: each sits
// between the lines <!-- bench:NAME --> and <!-- /bench:NAME -->, and a
// run that writes its results (-out) and measured every section the
// markers name replaces them with its own tables, so the page never
// mixes runs. A busy run (-busy) leaves the page alone.

// docBlocks names each marked block and the report section whose first
// table it is; "targets" gathers the rows of every targets table, "run"
// is the sentence naming the run.
var docBlocks = []struct {
	name, heading, sec string
}{
	{"tcp", "## TCP echo", secTCP},
	{"http", "## HTTP hello", secHTTP},
	{"ws", "## WebSocket echo", secWS},
	{"room", "## Room broadcast", secRoom},
	{"tcpmem", "## Memory: * idle TCP connections", secTCPMem},
	{"wsmem", "## Memory: * idle WebSocket connections", secWSMem},
}

// headingIs matches a report heading against a docBlocks heading, in
// which * stands for anything.
func headingIs(heading, pattern string) bool {
	pre, post, star := strings.Cut(pattern, "*")
	if !star {
		return heading == pattern
	}
	return strings.HasPrefix(heading, pre) && strings.HasSuffix(heading, post)
}

// writeDocs replaces the marked blocks of path with the run's tables; it
// says why when it leaves the file as it is.
func writeDocs(o *options, m machine, path, md string) (bool, string, error) {
	if o.busy > 0 {
		return false, "a -busy run", nil
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return false, "", err
	}
	doc := string(src)
	var missing []string
	for _, blk := range docBlocks {
		if strings.Contains(doc, marker(blk.name, false)) && !o.has(blk.sec) {
			missing = append(missing, blk.sec)
		}
	}
	if len(missing) > 0 {
		return false, "this run lacks the sections " + strings.Join(missing, ", ") + " of its tables", nil
	}
	tables := reportTables(md)
	for _, blk := range docBlocks {
		var tbl []string
		for _, t := range tables {
			if headingIs(t.heading, blk.heading) {
				tbl = t.lines
				break
			}
		}
		if doc, err = replaceBlock(doc, blk.name, strings.Join(tbl, "\n")); err != nil {
			return false, "", err
		}
	}
	var targets []string
	for _, t := range tables {
		if strings.HasPrefix(t.heading, "## Targets of ") && len(t.lines) > 2 {
			if len(targets) == 0 {
				targets = append(targets, t.lines[:2]...)
			}
			targets = append(targets, t.lines[2:]...)
		}
	}
	if doc, err = replaceBlock(doc, "targets", strings.Join(targets, "\n")); err != nil {
		return false, "", err
	}
	if doc, err = replaceBlock(doc, "run", runSentence(o, m)); err != nil {
		return false, "", err
	}
	if doc == string(src) {
		return false, "no marked block (<!-- bench:NAME -->) in it", nil
	}
	return true, "", os.WriteFile(path, []byte(doc), 0o644)
}

// runSentence names the run the page's tables come from.
func runSentence(o *options, m machine) string {
	parts := []string{fmt.Sprintf("%d cores", m.cpus), m.goVer, "Node.js " + m.nodeVer}
	var pkgs []string
	for name, v := range m.npm {
		pkgs = append(pkgs, name+" "+v)
	}
	sort.Strings(pkgs)
	parts = append(parts, pkgs...)
	if o.httpLoad == loadWrk {
		parts = append(parts, wrkName(o))
	}
	if m.nginx != "" {
		parts = append(parts, m.nginx)
	}
	return fmt.Sprintf("From the run of %s (%s).", time.Now().UTC().Format("2006-01-02 15:04 UTC"), strings.Join(parts, ", "))
}

func marker(name string, end bool) string {
	if end {
		return "<!-- /bench:" + name + " -->"
	}
	return "<!-- bench:" + name + " -->"
}

// replaceBlock puts body between name's markers (no markers: doc as it
// is; a table the run did not make leaves the block as it was).
func replaceBlock(doc, name, body string) (string, error) {
	begin, end := marker(name, false), marker(name, true)
	i := strings.Index(doc, begin)
	if i < 0 {
		return doc, nil
	}
	j := strings.Index(doc[i:], end)
	if j < 0 {
		return "", fmt.Errorf("%s without %s", begin, end)
	}
	if strings.TrimSpace(body) == "" {
		return doc, nil
	}
	return doc[:i+len(begin)] + "\n" + body + "\n" + doc[i+j:], nil
}

// reportTable is the first table under a heading of the report.
type reportTable struct {
	heading string
	lines   []string
}

// reportTables lists the first table under each "## " heading of md.
func reportTables(md string) []reportTable {
	var out []reportTable
	var cur *reportTable
	done := false
	for _, line := range strings.Split(md, "\n") {
		switch {
		case strings.HasPrefix(line, "## "):
			out = append(out, reportTable{heading: line})
			cur, done = &out[len(out)-1], false
		case cur == nil || done:
		case strings.HasPrefix(line, "|"):
			cur.lines = append(cur.lines, line)
		case len(cur.lines) > 0:
			done = true
		}
	}
	return out
}

// updateDocs runs writeDocs on -docs (relative to the repository root)
// and logs what it did.
func updateDocs(o *options, root string, m machine, md string) {
	if o.docs == "" {
		return
	}
	path := o.docs
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	wrote, why, err := writeDocs(o, m, path, md)
	switch {
	case err != nil:
		logf("-docs %s: %v", path, err)
	case wrote:
		logf("wrote the tables of %s", path)
	default:
		logf("left %s as it is: %s", path, why)
	}
}
