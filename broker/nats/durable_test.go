package nats

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/imscript/imscript/broker"
)

// A clean restart on the same directory keeps every publication, the
// positions and the epoch; seqs go on.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	n := open(t, dir, "n")
	opts := broker.PublishOptions{HistorySize: 50}
	for i := 1; i <= 30; i++ {
		publish(t, n, lobby, fmt.Sprint("l", i), opts)
		if i%3 == 0 {
			publish(t, n, alice, fmt.Sprint("a", i/3), opts)
		}
	}
	epoch := n.Epoch()
	must(t, n.Close())

	n = open(t, dir, "n")
	if n.Epoch() != epoch {
		t.Fatalf("epoch %q after a restart, was %q", n.Epoch(), epoch)
	}
	for ch, want := range map[broker.Channel]int{lobby: 30, alice: 10} {
		got, pos, err := n.History(ch, broker.HistoryQuery{})
		must(t, err)
		if pos != (broker.Position{Seq: uint64(want), Epoch: epoch}) || !slices.Equal(seqs(got), rng(1, uint64(want))) {
			t.Fatalf("%s after a restart: %v, %+v", ch, seqs(got), pos)
		}
		if last := string(got[want-1].Data); last != map[broker.Channel]string{lobby: "l30", alice: "a10"}[ch] {
			t.Fatalf("%s's last: %q", ch, last)
		}
	}
	if p := publish(t, n, lobby, "l31", opts); p.Seq != 31 {
		t.Fatalf("first seq after a restart: %d", p.Seq)
	}
	// the stream's per-channel limit was kept too
	if n.limit.Load() != 50 {
		t.Errorf("limit %d after a restart", n.limit.Load())
	}
}

// One data directory, one process: a second Open on it fails while the
// first is open, and succeeds after it closed.
func TestDataDirLocked(t *testing.T) {
	dir := t.TempDir()
	n := open(t, dir, "n")
	if b, err := Open(Config{Node: "m", DataDir: dir, Logger: quiet()}); err == nil {
		b.Close()
		t.Fatal("a second Open on one data directory succeeded")
	} else if !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Open: %v", err)
	}
	must(t, n.Close())
	open(t, dir, "m")
}

// Losing the store loses history: a new epoch, and seqs start again.
func TestStoreLost(t *testing.T) {
	dir := t.TempDir()
	n := open(t, dir, "n")
	publish(t, n, lobby, "x", broker.PublishOptions{HistorySize: 5})
	epoch := n.Epoch()
	must(t, n.Close())
	must(t, os.RemoveAll(filepath.Join(dir, "nats")))

	n = open(t, dir, "n")
	got, pos, err := n.History(lobby, broker.HistoryQuery{})
	must(t, err)
	if len(got) != 0 || pos.Seq != 0 || pos.Epoch == epoch || pos.Epoch == "" {
		t.Fatalf("after the store was lost: %v, %+v (epoch was %q)", seqs(got), pos, epoch)
	}
	if p := publish(t, n, lobby, "y", broker.PublishOptions{HistorySize: 5}); p.Seq != 1 {
		t.Fatalf("first seq in the new epoch: %d", p.Seq)
	}
}

const childEnv = "IMSCRIPT_NATS_KILL_CHILD"

// TestKillChild is the process TestKill kills: it publishes with history
// to two channels until it dies, printing each publication Publish returned.
func TestKillChild(t *testing.T) {
	dir := os.Getenv(childEnv)
	if dir == "" {
		t.Skip("the child of TestKill")
	}
	b, err := Open(Config{Node: "child", DataDir: dir, Logger: quiet()})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("epoch", b.Epoch())
	opts := broker.PublishOptions{HistorySize: 100000}
	for i := range 1000000 {
		ch := lobby
		if i%3 == 2 {
			ch = alice
		}
		data := fmt.Sprint("d", i)
		p, err := b.Publish(ch, []byte(data), opts)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("ack", ch.Name, p.Seq, data) // os.Stdout is not buffered
	}
}

// A process killed with SIGKILL while publishing: every publication whose
// Publish returned is there when the directory is opened again, with its
// data, and the epoch is the same.
func TestKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	must(t, err)
	cmd.Stderr = os.Stderr
	must(t, cmd.Start())
	const killAfter = 500
	var epoch string
	type ack struct {
		ch   string
		seq  uint64
		data string
	}
	var acks []ack
	killed := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "epoch":
			epoch = f[1]
		case len(f) == 4 && f[0] == "ack":
			var a ack
			a.ch, a.data = f[1], f[3]
			fmt.Sscan(f[2], &a.seq)
			acks = append(acks, a)
		case len(f) > 0 && f[0] == "error":
			t.Fatalf("child: %s", sc.Text())
		}
		if len(acks) == killAfter && !killed {
			must(t, cmd.Process.Kill()) // SIGKILL
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed || err == nil {
		t.Fatalf("the child was not killed (%v); %d acks", err, len(acks))
	}
	if epoch == "" || len(acks) < killAfter {
		t.Fatalf("the child said epoch %q, %d acks", epoch, len(acks))
	}

	n := open(t, dir, "n")
	if n.Epoch() != epoch {
		t.Fatalf("epoch %q after the kill, was %q", n.Epoch(), epoch)
	}
	hist := map[string][]broker.Publication{}
	for _, ch := range []broker.Channel{lobby, alice} {
		got, pos, err := n.History(ch, broker.HistoryQuery{})
		must(t, err)
		if pos.Seq != uint64(len(got)) || !slices.Equal(seqs(got), rng(1, pos.Seq)) {
			t.Fatalf("%s after the kill: %d entries, position %+v", ch, len(got), pos)
		}
		hist[ch.Name] = got
	}
	for _, a := range acks {
		h := hist[a.ch]
		if a.seq == 0 || a.seq > uint64(len(h)) {
			t.Fatalf("acknowledged %s seq %d is gone (history holds %d)", a.ch, a.seq, len(h))
		}
		if p := h[a.seq-1]; string(p.Data) != a.data || p.Node != "child" {
			t.Fatalf("acknowledged %s seq %d holds %q from %s, want %q", a.ch, a.seq, p.Data, p.Node, a.data)
		}
	}
	t.Logf("%d acknowledged before the kill, %d and %d stored", len(acks), len(hist["lobby"]), len(hist["salice"]))
	// and the stream goes on from there
	if p := publish(t, n, lobby, "after", broker.PublishOptions{HistorySize: 10}); p.Seq != uint64(len(hist["lobby"])+1) {
		t.Fatalf("first seq after the kill: %d", p.Seq)
	}
}
