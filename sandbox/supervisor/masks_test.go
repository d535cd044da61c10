//go:build linux

package supervisor

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/workspace"
)

// TestMasks: a mask is empty and read-only, a directory's holds the mount
// points and the names asked for, every open of one (its entries' too)
// is a read of the hidden path, repeats counted, and Remove leaves
// nothing.
func TestMasks(t *testing.T) {
	parent := filepath.Join(t.TempDir(), "masks")
	rule := workspace.Source{File: "/ws/.sandbox.toml", Line: 2}
	m, err := MakeMasks(parent, []MaskSpec{
		{Path: "/ws/id.key", Rule: rule},
		{Path: "/home/u/.aws", Dir: true, Names: []MaskEntry{{Name: "credentials"}, {Name: "sso", Dir: true}},
			Mounts: []MaskEntry{{Name: "config"}, {Name: "sso/cache", Dir: true}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if m.Unwatched != nil {
		t.Fatal(m.Unwatched)
	}
	file, _ := m.Source("/ws/id.key")
	dir, _ := m.Source("/home/u/.aws")
	for rel, mode := range map[string]os.FileMode{"": 0o555 | os.ModeDir, "credentials": 0o444, "config": 0o444, "sso": 0o555 | os.ModeDir, "sso/cache": 0o555 | os.ModeDir} {
		fi, err := os.Lstat(filepath.Join(dir, rel))
		if err != nil || fi.Mode() != mode || (!fi.IsDir() && fi.Size() != 0) {
			t.Errorf("%s: %v %v, want mode %v and empty", rel, fi.Mode(), err, mode)
		}
	}
	if fi, err := os.Lstat(file); err != nil || fi.Mode() != 0o444 || fi.Size() != 0 {
		t.Errorf("file mask: %v %v", fi, err)
	}
	if len(m.Identities()) != 2 {
		t.Errorf("identities %v", m.Identities())
	}
	for _, p := range []string{file, file, filepath.Join(dir, "credentials"), dir} {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if _, err := os.Stat(filepath.Join(dir, "config")); err != nil { // no open: not a read
		t.Fatal(err)
	}
	got := map[string]sandbox.Violation{}
	for _, v := range m.Stop() {
		got[v.Target] = v
	}
	want := map[string]int{"/ws/id.key": 2, "/home/u/.aws/credentials": 1, "/home/u/.aws": 1}
	if len(got) != len(want) {
		t.Errorf("reads %v, want %v", got, want)
	}
	for target, n := range want {
		if v := got[target]; v.Kind != sandbox.KindRead || v.Count != n {
			t.Errorf("%s: %+v, want a read %d times", target, v, n)
		}
	}
	if got["/ws/id.key"].Rule != rule {
		t.Errorf("rule %v, want %v", got["/ws/id.key"].Rule, rule)
	}
	m.Remove()
	if ents, err := os.ReadDir(parent); err != nil || len(ents) != 0 {
		t.Errorf("left behind: %v %v", ents, err)
	}
}

// TestListNamesThroughNoLink: a credential directory that is a link
// shows no names (a run with a writable home could point ~/.ssh at a
// directory it cannot list).
func TestListNamesThroughNoLink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "private")
	os.Mkdir(real, 0o700)
	os.WriteFile(filepath.Join(real, "prod-db-password"), nil, 0o600)
	os.Symlink(real, filepath.Join(dir, ".ssh"))
	if got := ListNames(filepath.Join(dir, ".ssh")); len(got) != 0 {
		t.Errorf("names through a link: %v", got)
	}
	if got := ListNames(real); len(got) != 1 || got[0].Name != "prod-db-password" {
		t.Errorf("names of the directory itself: %v", got)
	}
}

// BenchmarkMasks is a run's cost of its masks: the credential set's
// usual hidden paths made, watched, stopped and removed.
func BenchmarkMasks(b *testing.B) {
	parent := filepath.Join(b.TempDir(), "masks")
	names := []MaskEntry{{Name: "id_ed25519"}, {Name: "id_ed25519.pub"}, {Name: "known_hosts"}, {Name: "config"}}
	specs := []MaskSpec{{Path: "/h/.netrc"}, {Path: "/h/.git-credentials"}, {Path: "/h/.docker/config.json"},
		{Path: "/h/.ssh", Dir: true, Names: names}, {Path: "/h/.aws", Dir: true, Names: names[:2]},
		{Path: "/h/.config/gh", Dir: true, Names: names[:1]}, {Path: "/h/.local/state/cordon", Dir: true,
			Mounts: []MaskEntry{{Name: "tmp/0123456789abcdef", Dir: true}}}}
	// Per phase too: in a loop this tight, each instance closed in the
	// background waits for the kernel's grace period while the next
	// iteration runs, which a run (one set of masks) does not.
	var mk, stop, rm time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		m, err := MakeMasks(parent, specs)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		m.Stop()
		t2 := time.Now()
		m.Remove()
		mk, stop, rm = mk+t1.Sub(t0), stop+time.Since(t1)-time.Since(t2), rm+time.Since(t2)
	}
	for name, d := range map[string]time.Duration{"make-ms": mk, "stop-ms": stop, "remove-ms": rm} {
		b.ReportMetric(float64(d.Microseconds())/1000/float64(b.N), name)
	}
}
