package host

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchDebounce is how long the files must stay quiet after a change before
// the script is reloaded: editors write in several steps.
const watchDebounce = 150 * time.Millisecond

// watch reloads the script when it or a file it required changes. It
// watches folders, not files, so saves by rename are seen too. ready is
// closed once the folders are watched and the files' sums taken: a save
// made after that is seen (Run says "started" only then).
func (h *Host) watch(ctx context.Context, ready chan<- struct{}) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		close(ready)
		h.log.Error("file watcher unavailable, reload on SIGHUP only", "err", err)
		return
	}
	defer w.Close()
	watched := map[string]bool{}
	files := map[string][32]byte{}
	sync := func() {
		for _, f := range h.dependencies() {
			dir := filepath.Dir(f)
			if !watched[dir] {
				if err := w.Add(dir); err != nil {
					h.log.Warn("cannot watch folder", "dir", dir, "err", err)
					continue
				}
				watched[dir] = true
			}
			if _, ok := files[f]; !ok {
				files[f] = fileSum(f)
			}
		}
	}
	sync()
	close(ready)
	var timer *time.Timer
	var fire <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			h.log.Warn("file watcher", "err", err)
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if _, dep := files[filepath.Clean(ev.Name)]; !dep {
				continue
			}
			if timer == nil {
				timer = time.NewTimer(watchDebounce)
			} else {
				timer.Reset(watchDebounce)
			}
			fire = timer.C
		case <-fire:
			fire = nil
			changed := ""
			empty := false
			for f, sum := range files {
				now := fileSum(f)
				if now != sum {
					if st, err := os.Stat(f); err != nil || st.Size() == 0 {
						// Half-way through a save: wait for the rest.
						empty = true
						continue
					}
					changed = f
					files[f] = now
				}
			}
			if empty {
				timer.Reset(watchDebounce)
				fire = timer.C
				if changed == "" {
					continue
				}
			}
			if changed == "" {
				continue
			}
			_ = h.reload("file changed: " + changed)
			// Required files may have changed: watch the new set.
			files2 := map[string][32]byte{}
			for _, f := range h.dependencies() {
				if s, ok := files[f]; ok {
					files2[f] = s
				} else {
					files2[f] = fileSum(f)
				}
			}
			files = files2
			sync()
		}
	}
}

func (h *Host) dependencies() []string {
	if d := h.deps.Load(); d != nil {
		return *d
	}
	return []string{h.cfg.Script}
}

func fileSum(path string) [32]byte {
	b, err := os.ReadFile(path)
	if err != nil || len(bytes.TrimSpace(b)) == 0 && len(b) == 0 {
		return [32]byte{}
	}
	return sha256.Sum256(b)
}
