package workspace

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestDefaultDirs(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("XDG_STATE_HOME", "relative/ignored")
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("TMPDIR", "/tmpx")
	d, err := DefaultDirs()
	if err != nil {
		t.Fatal(err)
	}
	want := Dirs{Home: home, ConfigDir: filepath.Join(home, ".config/cordon"), StateDir: filepath.Join(home, ".local/state/cordon"),
		RuntimeDir: fmt.Sprintf("/tmpx/cordon-%d", os.Getuid())}
	if d != want {
		t.Fatalf("DefaultDirs = %+v, want %+v", d, want)
	}
	if d.UserFile() != filepath.Join(home, ".config/cordon/sandbox.toml") {
		t.Errorf("UserFile = %s", d.UserFile())
	}
	t.Setenv("XDG_CONFIG_HOME", "/xdg/config")
	t.Setenv("XDG_STATE_HOME", "/xdg/state/")
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/7")
	if d, _ = DefaultDirs(); d.ConfigDir != "/xdg/config/cordon" || d.StateDir != "/xdg/state/cordon" || d.RuntimeDir != "/run/user/7/cordon" {
		t.Fatalf("with XDG: %+v", d)
	}
	// cordon's own directories are in the credential set.
	creds := CredentialPaths(d)
	if creds[len(creds)-2] != d.ConfigDir || creds[len(creds)-1] != d.StateDir {
		t.Errorf("credential set lacks cordon's dirs: %v", creds)
	}
}

// Concurrent approvals from several cordon processes (here goroutines,
// each with its own file lock) all survive.
func TestTrustConcurrent(t *testing.T) {
	ts := TrustStore{Dir: filepath.Join(t.TempDir(), "state")}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ts.Trust(fmt.Sprintf("/ws%d/.sandbox.toml", i), "h"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for i := range 8 {
		if ok, err := ts.Trusted(fmt.Sprintf("/ws%d/.sandbox.toml", i), "h"); !ok || err != nil {
			t.Errorf("approval %d lost: %v %v", i, ok, err)
		}
	}
}

// A relative --policy path is trusted under its absolute name, so the
// approval holds whichever way the file is named next time.
func TestTrustKeyIsAbsolute(t *testing.T) {
	f := newFixture(t)
	f.writeWS(t, "[network]\nallow = [\"github.com\"]\n")
	t.Chdir(f.root)
	p, err := Load(LoadOptions{Root: f.root, PolicyFile: ".sandbox.toml", Dirs: f.dirs})
	if err != nil {
		t.Fatal(err)
	}
	if p.File != filepath.Join(f.root, ".sandbox.toml") || p.Trusted {
		t.Fatalf("File %q trusted %v", p.File, p.Trusted)
	}
	if err := (TrustStore{Dir: f.dirs.StateDir}).Trust(p.File, p.Hash); err != nil {
		t.Fatal(err)
	}
	if p = f.load(t); !p.Trusted || len(p.Network.Allow) != 1 {
		t.Fatalf("approval under the relative name did not hold: %+v", p.Untrusted)
	}
}

func TestLoadRejectsBadInput(t *testing.T) {
	f := newFixture(t)
	if _, err := Load(LoadOptions{Root: "relative", Dirs: f.dirs}); err == nil {
		t.Error("a relative root was accepted")
	}
	big := make([]byte, maxPolicySize+1)
	for i := range big {
		big[i] = '#'
	}
	if err := os.WriteFile(filepath.Join(f.root, ".sandbox.toml"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(LoadOptions{Root: f.root, Dirs: f.dirs}); err == nil {
		t.Error("an oversized policy was accepted")
	}
	// A directory where the policy should be is an error, not "no policy".
	os.Remove(filepath.Join(f.root, ".sandbox.toml"))
	os.Mkdir(filepath.Join(f.root, ".sandbox.toml"), 0o755)
	if _, err := Load(LoadOptions{Root: f.root, Dirs: f.dirs}); err == nil {
		t.Error("a directory named .sandbox.toml was taken for no policy")
	}
}

func TestHomeAsRootWarns(t *testing.T) {
	f := newFixture(t)
	p, err := Load(LoadOptions{Root: f.dirs.Home, Dirs: f.dirs})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Warnings) == 0 {
		t.Fatal("a workspace root at $HOME raised no warning")
	}
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("../testdata/policies/valid/design-example.toml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("/ws/.sandbox.toml", data, sampleDirs, "/ws"); err != nil {
			b.Fatal(err)
		}
	}
}

// A trust store others could write (a planted trust.json, a symlink to
// one) trusts nothing.
func TestTrustStoreRefusesForeignFiles(t *testing.T) {
	ts := TrustStore{Dir: filepath.Join(t.TempDir(), "state")}
	if err := ts.Trust("/ws/.sandbox.toml", "h"); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(ts.Dir, "trust.json")
	if err := os.Chmod(file, 0o666); err != nil {
		t.Fatal(err)
	}
	if ok, err := ts.Trusted("/ws/.sandbox.toml", "h"); ok || err == nil {
		t.Fatalf("a world-writable store answered %v, %v", ok, err)
	}
	os.Chmod(file, 0o600)
	planted := filepath.Join(t.TempDir(), "planted.json")
	os.Rename(file, planted)
	if err := os.Symlink(planted, file); err != nil {
		t.Fatal(err)
	}
	if ok, err := ts.Trusted("/ws/.sandbox.toml", "h"); ok || err == nil {
		t.Fatalf("a symlinked store answered %v, %v", ok, err)
	}
	if err := ts.Trust("/ws/.sandbox.toml", "h2"); err == nil {
		t.Fatal("Trust wrote through a symlinked store")
	}
}

// Writes into another workspace folder are no widening; folders are
// cleaned and listed once, and a relative one is ignored.
func TestFolders(t *testing.T) {
	f := newFixture(t)
	other := t.TempDir()
	f.writeWS(t, "[filesystem]\nallow_write = [\""+other+"/gen\"]\n")
	p, err := Load(LoadOptions{Root: f.root, Folders: []string{other + "/", f.root, "rel"}, Dirs: f.dirs})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Folders) != 2 || p.Folders[0] != f.root || p.Folders[1] != other {
		t.Errorf("Folders = %v", p.Folders)
	}
	if !p.Trusted || len(p.Filesystem.AllowWrite) != 1 {
		t.Errorf("a write into a workspace folder counted as a widening: %v", p.Untrusted)
	}
	if p, _ = Load(LoadOptions{Root: f.root, Dirs: f.dirs}); p.Trusted {
		t.Error("without the folder, the same write was not counted as a widening")
	}
}

// An allow_read in the workspace file that re-opens part of the user's own
// deny_read is no "changes nothing" rule.
func TestAllowReadInsideUserDenyIsNoWarning(t *testing.T) {
	f := newFixture(t)
	f.writeUser(t, "[filesystem]\ndeny_read = [\"~/private\"]\n")
	f.writeWS(t, "[filesystem]\nallow_read = [\"~/private/notes\", \"/opt/nothing\"]\n")
	p := f.load(t)
	if len(p.Warnings) != 1 || p.Warnings[0].Col != 34 {
		t.Fatalf("warnings = %v, want one on /opt/nothing", p.Warnings)
	}
}

func TestParseRelativeRootRefused(t *testing.T) {
	if _, err := Parse("p.toml", []byte("[filesystem]\ndeny_write = [\".env\"]\n"), sampleDirs, ""); err == nil {
		t.Fatal("a relative path was accepted with no root to anchor it")
	}
	if _, err := Parse("p.toml", []byte("[filesystem]\ndeny_write = [\"/abs/.env\", \"~/x\"]\n"), sampleDirs, ""); err != nil {
		t.Fatal(err)
	}
}
