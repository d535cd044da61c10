package workspace

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// watchFixture counts callbacks of a Watcher on one policy file.
type watchFixture struct {
	file    string
	n       atomic.Int32
	changed chan struct{}
}

func startWatch(t *testing.T, file string, debounce time.Duration) *watchFixture {
	t.Helper()
	wf := &watchFixture{file: file, changed: make(chan struct{}, 64)}
	w, err := Watch(context.Background(), []string{file}, debounce, func() {
		wf.n.Add(1)
		wf.changed <- struct{}{}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return wf
}

func (wf *watchFixture) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case <-wf.changed:
	case <-time.After(5 * time.Second):
		t.Fatalf("no change seen after %s", what)
	}
}

// quiet asserts no callback comes within d.
func (wf *watchFixture) quiet(t *testing.T, what string, d time.Duration) {
	t.Helper()
	select {
	case <-wf.changed:
		t.Fatalf("a change was reported for %s", what)
	case <-time.After(d):
	}
}

func write(t *testing.T, name, data string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWatchEditorSaves(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, ".sandbox.toml")
	wf := startWatch(t, file, 20*time.Millisecond)

	write(t, file, "a")
	wf.wait(t, "create")
	write(t, file, "b")
	wf.wait(t, "write in place (VS Code)")

	// Atomic save: a temporary file renamed over the policy.
	tmp := filepath.Join(dir, ".sandbox.toml.tmp")
	write(t, tmp, "c")
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
	wf.wait(t, "rename over")

	// vim (nobackupcopy): the original moved aside, a new file written.
	if err := os.Rename(file, file+"~"); err != nil {
		t.Fatal(err)
	}
	write(t, file, "d")
	os.Remove(file + "~")
	wf.wait(t, "vim save")

	os.Remove(file)
	wf.wait(t, "remove")

	write(t, filepath.Join(dir, "unrelated.txt"), "x")
	write(t, filepath.Join(dir, ".sandbox.toml.bak"), "x")
	wf.quiet(t, "unrelated files", 200*time.Millisecond)
}

func TestWatchDebouncesBursts(t *testing.T) {
	file := filepath.Join(t.TempDir(), ".sandbox.toml")
	// A long debounce so a slow, loaded machine still writes the burst
	// within it.
	wf := startWatch(t, file, 300*time.Millisecond)
	for i := range 20 {
		write(t, file, string(rune('a'+i)))
	}
	wf.wait(t, "a burst")
	wf.quiet(t, "the rest of the burst", 600*time.Millisecond)
	if got := wf.n.Load(); got != 1 {
		t.Fatalf("a burst of writes gave %d changes, want 1", got)
	}
}

// A policy in a directory that does not exist yet is still seen once the
// directory and the file appear (a user defaults file before the first
// `mkdir -p ~/.config/cordon`).
func TestWatchMissingDirectory(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "config", "cordon", "sandbox.toml")
	wf := startWatch(t, file, 20*time.Millisecond)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	// The directories alone count as a change (harmless: a reload finds
	// no file); drain them before the file appears.
	time.Sleep(100 * time.Millisecond)
	for len(wf.changed) > 0 {
		<-wf.changed
	}
	write(t, file, "[limits]\n")
	wf.wait(t, "file created in a new directory")
	write(t, file, "[limits]\ntimeout = \"1m\"\n")
	wf.wait(t, "file edited in a new directory")
}

func TestWatchCloseStops(t *testing.T) {
	file := filepath.Join(t.TempDir(), ".sandbox.toml")
	var n atomic.Int32
	w, err := Watch(context.Background(), []string{file}, 10*time.Millisecond, func() { n.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	write(t, file, "x")
	time.Sleep(100 * time.Millisecond)
	if n.Load() != 0 {
		t.Fatal("a closed watcher called back")
	}
}

// The directory holding the policy removed and made again (a branch
// switch, a `git clean`): the new file is still seen.
func TestWatchDirectoryRecreated(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "ws")
	os.Mkdir(dir, 0o755)
	file := filepath.Join(dir, ".sandbox.toml")
	write(t, file, "a")
	wf := startWatch(t, file, 20*time.Millisecond)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	wf.wait(t, "directory removed")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	for len(wf.changed) > 0 {
		<-wf.changed
	}
	write(t, file, "b")
	wf.wait(t, "file in the recreated directory")
}

func TestFindRootResolvesSymlinks(t *testing.T) {
	base, _ := filepath.EvalSymlinks(t.TempDir())
	real := filepath.Join(base, "real")
	os.MkdirAll(filepath.Join(real, "sub"), 0o755)
	os.WriteFile(filepath.Join(real, ".sandbox.toml"), nil, 0o644)
	link := filepath.Join(base, "link")
	mustSymlink(t, real, link)
	if got, err := FindRoot(filepath.Join(link, "sub")); err != nil || got != real {
		t.Fatalf("FindRoot through a symlink = %q, %v; want %q", got, err, real)
	}
	if _, err := FindRoot(filepath.Join(base, "missing")); err == nil {
		t.Fatal("FindRoot of a missing directory succeeded")
	}
}
