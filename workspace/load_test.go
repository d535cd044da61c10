package workspace

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type fixture struct {
	dirs Dirs
	root string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	d := testDirs(t)
	root := filepath.Join(t.TempDir(), "ws")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	return &fixture{dirs: d, root: root}
}

func (f *fixture) writeWS(t *testing.T, src string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.root, ".sandbox.toml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) writeUser(t *testing.T, src string) {
	t.Helper()
	os.MkdirAll(f.dirs.ConfigDir, 0o755)
	if err := os.WriteFile(f.dirs.UserFile(), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) load(t *testing.T) *Policy {
	t.Helper()
	p, err := Load(LoadOptions{Root: f.root, Dirs: f.dirs})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return p
}

func TestLoadDefaults(t *testing.T) {
	f := newFixture(t)
	p := f.load(t)
	if p.Network.Unknown != UnknownAsk || !p.Trusted || p.Hash != "" {
		t.Fatalf("defaults: %+v", p)
	}
	var denied []string
	for _, r := range p.Filesystem.DenyRead {
		if !r.Source.IsDefault() {
			t.Errorf("credential rule %v not marked default", r)
		}
		denied = append(denied, r.Path)
	}
	for _, want := range []string{filepath.Join(f.dirs.Home, ".ssh"), filepath.Join(f.dirs.Home, ".docker/config.json"), f.dirs.StateDir, f.dirs.ConfigDir} {
		if !strings.Contains(strings.Join(denied, "\n"), want) {
			t.Errorf("credential set lacks %s", want)
		}
	}
}

func TestUntrustedWideningsAreLeftOut(t *testing.T) {
	f := newFixture(t)
	f.writeWS(t, `
[filesystem]
allow_write = ["/opt/elsewhere", "build"]
deny_write = [".env"]
allow_read = ["~/.aws/config"]
[network]
allow = ["github.com"]
deny = ["evil.example"]
allow_unix_sockets = ["/run/agent.sock"]
[env]
pass = ["NPM_TOKEN", "EDITOR"]
[limits]
timeout = "1m"
`)
	p := f.load(t)
	if p.Trusted {
		t.Fatal("a widening file is trusted without approval")
	}
	kinds := map[string]bool{}
	for _, w := range p.Untrusted {
		kinds[w.Kind+" "+w.Target] = true
	}
	for _, want := range []string{"write /opt/elsewhere", "read " + filepath.Join(f.dirs.Home, ".aws/config"), "net github.com", "unix-socket /run/agent.sock", "env NPM_TOKEN"} {
		if !kinds[want] {
			t.Errorf("widening %q not listed: %v", want, kinds)
		}
	}
	if kinds["write "+filepath.Join(f.root, "build")] || kinds["env EDITOR"] {
		t.Errorf("narrow rules listed as widenings: %v", kinds)
	}
	// Narrowings and in-workspace rules apply; widenings do not.
	if len(p.Network.Allow) != 0 || len(p.Network.AllowUnixSockets) != 0 || len(p.Filesystem.AllowRead) != 0 {
		t.Errorf("widenings applied: %+v %+v", p.Network, p.Filesystem.AllowRead)
	}
	if len(p.Network.Deny) != 1 || len(p.Filesystem.DenyWrite) != 1 || p.Limits.Timeout != time.Minute {
		t.Errorf("narrowings not applied: %+v %+v", p.Network.Deny, p.Limits)
	}
	if len(p.Filesystem.AllowWrite) != 1 || p.Filesystem.AllowWrite[0].Path != filepath.Join(f.root, "**/build") {
		t.Errorf("allow_write = %+v", p.Filesystem.AllowWrite)
	}

	// Trusting that exact content applies everything.
	if err := (TrustStore{Dir: f.dirs.StateDir}).Trust(p.File, p.Hash); err != nil {
		t.Fatal(err)
	}
	p = f.load(t)
	if !p.Trusted || len(p.Untrusted) != 0 || len(p.Network.Allow) != 1 || len(p.Filesystem.AllowWrite) != 2 {
		t.Fatalf("trusted: %+v", p)
	}

	// Any edit needs trust again.
	f.writeWS(t, "[network]\nallow = [\"github.com\"]\n# edited\n")
	if p = f.load(t); p.Trusted || len(p.Network.Allow) != 0 {
		t.Fatal("an edited file kept its trust")
	}
}

func TestUserDefaultsCoverWorkspaceRules(t *testing.T) {
	f := newFixture(t)
	f.writeUser(t, "[network]\nallow = [\"*.github.com\", \"proxy.golang.org:443\"]\nunknown = \"deny\"\n[limits]\ntimeout = \"10m\"\n")
	f.writeWS(t, "[network]\nallow = [\"api.github.com\", \"proxy.golang.org:443\"]\n[limits]\ntimeout = \"1h\"\n")
	p := f.load(t)
	if !p.Trusted || len(p.Untrusted) != 0 {
		t.Fatalf("rules the user already allows count as widenings: %v", p.Untrusted)
	}
	if p.Limits.Timeout != 10*time.Minute {
		t.Errorf("a workspace file raised the user's timeout: %v", p.Limits.Timeout)
	}
	if src := p.LimitSources["timeout"]; src.File != f.dirs.UserFile() || src.Line != 5 {
		t.Errorf("timeout source = %v, want the user file line 5", src)
	}
	if !strings.Contains(Explain(p), f.dirs.UserFile()+":5") {
		t.Errorf("Explain does not name the timeout's source:\n%s", Explain(p))
	}
	if p.Network.Unknown != UnknownDeny {
		t.Errorf("unknown = %v", p.Network.Unknown)
	}
	// "ask" where the user said "deny" is a widening.
	f.writeWS(t, "[network]\nunknown = \"ask\"\n")
	if p = f.load(t); p.Trusted || p.Network.Unknown != UnknownDeny {
		t.Errorf("unknown=ask over the user's deny applied untrusted: %v %v", p.Trusted, p.Network.Unknown)
	}
}

func TestLoadInvalidFile(t *testing.T) {
	f := newFixture(t)
	f.writeWS(t, "[network]\nallow = [\"a b\"]\n")
	_, err := Load(LoadOptions{Root: f.root, Dirs: f.dirs})
	pe, ok := err.(*PolicyError)
	if !ok || pe.Diagnostics[0].Line != 2 || !strings.HasSuffix(pe.Diagnostics[0].File, ".sandbox.toml") {
		t.Fatalf("Load of an invalid file: %v", err)
	}
	f.writeUser(t, "[bogus]\n")
	if _, err := Load(LoadOptions{Root: f.root, Dirs: f.dirs}); err == nil {
		t.Fatal("an invalid user file passed")
	}
}

func TestTrustStoreIsPrivate(t *testing.T) {
	d := testDirs(t)
	ts := TrustStore{Dir: d.StateDir}
	if ok, err := ts.Trusted("/ws/.sandbox.toml", "abc"); ok || err != nil {
		t.Fatalf("empty store: %v %v", ok, err)
	}
	if err := ts.Trust("/ws/.sandbox.toml", "abc"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := ts.Trusted("/ws/.sandbox.toml", "abc"); !ok {
		t.Fatal("not trusted after Trust")
	}
	if ok, _ := ts.Trusted("/other/.sandbox.toml", "abc"); ok {
		t.Fatal("trust leaked to another file with the same content")
	}
	fi, err := os.Stat(d.StateDir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("state dir mode %v, %v", fi.Mode(), err)
	}
	os.WriteFile(filepath.Join(d.StateDir, "trust.json"), []byte("{garbage"), 0o600)
	if _, err := ts.Trusted("/ws/.sandbox.toml", "abc"); err == nil {
		t.Fatal("a corrupt store answered")
	}
}

func TestExplainNamesSources(t *testing.T) {
	f := newFixture(t)
	f.writeWS(t, "[network]\ndeny = [\"evil.example\"]\n")
	out := Explain(f.load(t))
	if !strings.Contains(out, "evil.example") || !strings.Contains(out, ".sandbox.toml:2") || !strings.Contains(out, "(default)") {
		t.Fatalf("Explain:\n%s", out)
	}
}

func BenchmarkLoad(b *testing.B) {
	home := b.TempDir()
	d := Dirs{Home: home, ConfigDir: filepath.Join(home, "c"), StateDir: filepath.Join(home, "s")}
	root := b.TempDir()
	os.WriteFile(filepath.Join(root, ".sandbox.toml"), []byte("[filesystem]\ndeny_write = [\".env\", \"*.pem\"]\n[network]\ndeny = [\"x.example\"]\n"), 0o644)
	for b.Loop() {
		if _, err := Load(LoadOptions{Root: root, Dirs: d}); err != nil {
			b.Fatal(err)
		}
	}
}
