package workspace

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watcher calls back when any of a set of files is created, written,
// removed or replaced. It watches the parent directories, because editors
// save by writing a temporary file and renaming it over the original,
// which a watch on the file itself would lose.
type Watcher struct {
	w      *fsnotify.Watcher
	cancel context.CancelFunc
	done   chan struct{}
}

// Watch starts watching files; onChange runs (on the watcher's goroutine)
// once per burst of events, debounce after the last one. A parent
// directory that does not exist yet is watched from its nearest existing
// ancestor, so a policy file in a directory created later is still seen.
func Watch(ctx context.Context, files []string, debounce time.Duration, onChange func()) (*Watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watching policy files: %w", err)
	}
	targets := map[string]bool{}
	dirs := map[string]bool{}
	for _, f := range files {
		f = filepath.Clean(f)
		targets[f] = true
		dirs[existingAncestor(filepath.Dir(f))] = true
	}
	for d := range dirs {
		if err := fw.Add(d); err != nil {
			fw.Close()
			return nil, fmt.Errorf("watching %s: %w", d, err)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &Watcher{w: fw, cancel: cancel, done: make(chan struct{})}
	go w.loop(ctx, targets, debounce, onChange)
	return w, nil
}

func existingAncestor(d string) string {
	for {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return d
		}
		d = parent
	}
}

func (w *Watcher) loop(ctx context.Context, targets map[string]bool, debounce time.Duration, onChange func()) {
	defer close(w.done)
	var (
		timer   *time.Timer
		fire    <-chan time.Time
		watched sync.Map
	)
	relevant := func(name string) bool {
		name = filepath.Clean(name)
		if targets[name] {
			return true
		}
		// A directory on the way to a target appeared: watch it too.
		for t := range targets {
			if dir := filepath.Dir(t); dir == name || within(name, dir) {
				if _, ok := watched.Load(name); !ok {
					if fi, err := os.Stat(name); err == nil && fi.IsDir() {
						if w.w.Add(name) == nil {
							watched.Store(name, true)
						}
					}
				}
				return true
			}
		}
		return false
	}
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case ev, ok := <-w.w.Events:
			if !ok {
				return
			}
			if !relevant(ev.Name) {
				continue
			}
			if timer == nil {
				timer = time.NewTimer(debounce)
			} else {
				timer.Reset(debounce)
			}
			fire = timer.C
		case _, ok := <-w.w.Errors:
			if !ok {
				return
			}
		case <-fire:
			fire = nil
			onChange()
		}
	}
}

// Close stops the watcher and waits for its goroutine.
func (w *Watcher) Close() error {
	w.cancel()
	err := w.w.Close()
	<-w.done
	return err
}
