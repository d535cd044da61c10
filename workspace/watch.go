package workspace

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watcher calls back when any of a set of files is created, written,
// removed or replaced. It watches the parent directories, because editors
// save by writing a temporary file and renaming it over the original,
// which a watch on the file itself would lose.
type Watcher struct {
	w       *fsnotify.Watcher
	cancel  context.CancelFunc
	done    chan struct{}
	targets map[string]bool // the files, cleaned
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
	w := &Watcher{w: fw, done: make(chan struct{}), targets: map[string]bool{}}
	for _, f := range files {
		w.targets[filepath.Clean(f)] = true
	}
	if err := w.refresh(); err != nil {
		fw.Close()
		return nil, err
	}
	ctx, w.cancel = context.WithCancel(ctx)
	go w.loop(ctx, debounce, onChange)
	return w, nil
}

// refresh watches, for each target, its directory or else the nearest
// ancestor that exists. It runs after every relevant event, because
// "mkdir -p" creates several levels faster than a watch can be added on
// each.
func (w *Watcher) refresh() error {
	// fsnotify's own list, not ours: a watch silently goes when its
	// directory is removed, and fsnotify does not always say so (it
	// drops the event when the parent is watched too).
	watched := map[string]bool{}
	for _, d := range w.w.WatchList() {
		watched[d] = true
	}
	for t := range w.targets {
		// A deeper directory may appear while a watch is being added
		// (its creation event then lost): look again until the deepest
		// existing one is watched.
		for {
			d := existingAncestor(filepath.Dir(t))
			if watched[d] {
				break
			}
			if err := w.w.Add(d); err != nil {
				return fmt.Errorf("watching %s: %w", d, err)
			}
			watched[d] = true
		}
	}
	return nil
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

// relevant: a target itself, or a directory on the way to one.
func (w *Watcher) relevant(name string) bool {
	name = filepath.Clean(name)
	if w.targets[name] {
		return true
	}
	for t := range w.targets {
		if within(name, filepath.Dir(t)) {
			return true
		}
	}
	return false
}

func (w *Watcher) loop(ctx context.Context, debounce time.Duration, onChange func()) {
	defer close(w.done)
	var (
		timer *time.Timer
		fire  <-chan time.Time
	)
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
			if !w.relevant(ev.Name) {
				continue
			}
			// Best effort: a directory that vanished again is retried
			// on the next event.
			_ = w.refresh()
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

// Close stops the watcher and waits for its goroutine. It must not be
// called from onChange.
func (w *Watcher) Close() error {
	w.cancel()
	err := w.w.Close()
	<-w.done
	return err
}
