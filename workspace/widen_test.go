package workspace

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Each case is a workspace file a prompt-injected agent could write to get
// more than the user's defaults give without asking. Every one must be
// classed as a widening, and so be left out while the file is untrusted.
func TestWideningAttacks(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		setup     func(t *testing.T, f *fixture)
		widens    bool
	}{
		{"read a credential by glob class", `allow_read = ["~/.ss[h]"]`, nil, true},
		{"read a credential by star", `allow_read = ["~/.s*/**"]`, nil, true},
		{"read everything", `allow_read = ["/**"]`, nil, true},
		{"read home", `allow_read = ["~"]`, nil, true},
		{"read cordon state", `allow_read = ["~/.local/state/cordon/trust.json"]`, nil, true},
		{"read via workspace symlink", `allow_read = ["keys"]`, func(t *testing.T, f *fixture) {
			mustSymlink(t, filepath.Join(f.dirs.Home, ".ssh"), filepath.Join(f.root, "keys"))
		}, true},
		{"read outside credentials", `allow_read = ["~/projects/*.txt"]`, nil, false},
		{"write outside", `allow_write = ["../sibling"]`, nil, true},
		{"write outside by glob", `allow_write = ["/wor*/x"]`, nil, true},
		{"write root by glob", `allow_write = ["/**"]`, nil, true},
		{"write via workspace symlink", `allow_write = ["etc"]`, func(t *testing.T, f *fixture) {
			mustSymlink(t, "/etc", filepath.Join(f.root, "etc"))
		}, true},
		{"write via symlinked parent", `allow_write = ["out/new"]`, func(t *testing.T, f *fixture) {
			mustSymlink(t, f.dirs.Home, filepath.Join(f.root, "out"))
		}, true},
		{"write inside", `allow_write = ["build", "gen/**", "*.log"]`, nil, false},
		{"narrowings only", `deny_read = ["secrets/**"]
deny_write = [".env"]`, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			os.MkdirAll(filepath.Join(f.dirs.Home, ".ssh"), 0o700)
			if tc.setup != nil {
				tc.setup(t, f)
			}
			f.writeWS(t, "[filesystem]\n"+tc.src+"\n")
			p := f.load(t)
			if got := len(p.Untrusted) > 0; got != tc.widens || p.Trusted == tc.widens {
				t.Fatalf("widens = %v (trusted %v), want %v: %v", got, p.Trusted, tc.widens, p.Untrusted)
			}
			if !tc.widens {
				return
			}
			// Left out: nothing the file allows reaches the policy.
			if len(p.Filesystem.AllowRead)+len(p.Filesystem.AllowWrite) != 0 {
				t.Errorf("untrusted widening applied: %+v %+v", p.Filesystem.AllowRead, p.Filesystem.AllowWrite)
			}
			if !strings.Contains(Explain(p), "left out") {
				t.Errorf("Explain does not say what was left out:\n%s", Explain(p))
			}
		})
	}
}

// A rule the user's own defaults already grant is no widening.
func TestUserFileCoversWidenings(t *testing.T) {
	f := newFixture(t)
	f.writeUser(t, `[filesystem]
allow_write = ["~/.cache/**"]
allow_read = ["~/.aws/config"]
[network]
allow_unix_sockets = ["/run/agent.sock"]
allow = ["*.example.com:443"]
[env]
pass = ["NPM_TOKEN"]
`)
	f.writeWS(t, `[filesystem]
allow_write = ["~/.cache/go-build"]
allow_read = ["~/.aws/config"]
[network]
allow_unix_sockets = ["/run/agent.sock"]
allow = ["api.example.com:443"]
[env]
pass = ["NPM_TOKEN"]
`)
	if p := f.load(t); !p.Trusted || len(p.Untrusted) != 0 {
		t.Fatalf("covered rules count as widenings: %v", p.Untrusted)
	}
	for _, src := range []string{
		"[network]\nallow = [\"api.example.com\"]\n", // any port: wider than :443
		"[network]\nallow = [\"example.com:443\"]\n", // the suffix itself
		"[network]\nallow = [\"*.example.com.evil:443\"]\n",
		"[network]\nallow_unix_sockets = [\"/run/agent.sock2\"]\n",
		"[env]\npass = [\"GH_TOKEN\"]\n",
		"[filesystem]\nallow_read = [\"~/.aws\"]\n",
		"[filesystem]\nallow_write = [\"~/.cache2\"]\n",
	} {
		f.writeWS(t, src)
		if p := f.load(t); p.Trusted {
			t.Errorf("%q is wider than the user file but trusted", src)
		}
	}
}

// Asking about unknown hosts where the user's defaults deny them widens
// the policy; where the user said nothing, or ask, it does not.
func TestUnknownAskWidensADeny(t *testing.T) {
	f := newFixture(t)
	f.writeWS(t, "[network]\nunknown = \"ask\"\n")
	for user, widens := range map[string]bool{
		"[network]\nunknown = \"deny\"\n": true,
		"[network]\nunknown = \"ask\"\n":  false,
		"[limits]\ntimeout = \"1m\"\n":    false,
	} {
		f.writeUser(t, user)
		p := f.load(t)
		if p.Trusted == widens {
			t.Errorf("user file %q: trusted %v, untrusted %v; want a widening: %v", user, p.Trusted, p.Untrusted, widens)
		}
		if widens && p.Network.Unknown != UnknownDeny {
			t.Errorf("user file %q: an untrusted ask applied (unknown = %q)", user, p.Network.Unknown)
		}
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// [env].set changes what runs (LD_PRELOAD reaches every dynamically linked
// program of the command): a workspace file's entries need trust, unless
// the user file sets the same value.
func TestEnvSetIsWidening(t *testing.T) {
	f := newFixture(t)
	f.writeWS(t, "[env]\nset = { LD_PRELOAD = \"./evil.so\" }\n")
	p := f.load(t)
	if p.Trusted || len(p.Env.Set) != 0 {
		t.Fatalf("untrusted [env].set applied: trusted %v, set %+v", p.Trusted, p.Env.Set)
	}
	if len(p.Untrusted) != 1 || p.Untrusted[0].Kind != "env" || p.Untrusted[0].Target != "LD_PRELOAD=./evil.so" {
		t.Fatalf("Untrusted = %v", p.Untrusted)
	}
	if !strings.Contains(Explain(p), "LD_PRELOAD=./evil.so") {
		t.Errorf("Explain does not list the left-out variable:\n%s", Explain(p))
	}
	if err := (TrustStore{Dir: f.dirs.StateDir}).Trust(p.File, p.Hash); err != nil {
		t.Fatal(err)
	}
	if p := f.load(t); !p.Trusted || len(p.Env.Set) != 1 || p.Env.Set[0].Value != "./evil.so" {
		t.Fatalf("trusted [env].set not applied: trusted %v, set %+v", p.Trusted, p.Env.Set)
	}

	f = newFixture(t)
	f.writeUser(t, "[env]\nset = { CI = \"1\" }\n")
	f.writeWS(t, "[env]\nset = { CI = \"1\" }\n")
	if p := f.load(t); !p.Trusted || len(p.Untrusted) != 0 {
		t.Fatalf("a value the user file sets counts as a widening: %v", p.Untrusted)
	}
	f.writeWS(t, "[env]\nset = { CI = \"2\" }\n")
	if p := f.load(t); p.Trusted {
		t.Fatalf("a different value than the user file's is trusted")
	}
}

// [network].publish exposes a port on the host: a workspace file's entry
// needs trust, unless the user file publishes the same port; a bad port is
// an error on its line.
func TestPublishIsWidening(t *testing.T) {
	f := newFixture(t)
	f.writeWS(t, "[network]\npublish = [\"5173\"]\n")
	p := f.load(t)
	if p.Trusted || len(p.Network.Publish) != 0 {
		t.Fatalf("untrusted publish applied: trusted %v, publish %+v", p.Trusted, p.Network.Publish)
	}
	if len(p.Untrusted) != 1 || p.Untrusted[0].Kind != "publish" || p.Untrusted[0].Target != "localhost:5173" {
		t.Fatalf("Untrusted = %v", p.Untrusted)
	}
	if err := (TrustStore{Dir: f.dirs.StateDir}).Trust(p.File, p.Hash); err != nil {
		t.Fatal(err)
	}
	p = f.load(t)
	if !p.Trusted || len(p.Network.Publish) != 1 || p.Network.Publish[0].Port != 5173 || p.Network.Publish[0].Source.Line != 2 {
		t.Fatalf("trusted publish: trusted %v, publish %+v", p.Trusted, p.Network.Publish)
	}
	if !strings.Contains(Explain(p), "publish  sandbox :5173 on the host's localhost:5173") {
		t.Errorf("Explain does not show the published port:\n%s", Explain(p))
	}

	f.writeUser(t, "[network]\npublish = [\"8080\"]\n")
	f.writeWS(t, "[network]\npublish = [\"8080\"]\n")
	if p := f.load(t); !p.Trusted || len(p.Network.Publish) != 2 {
		t.Fatalf("a port the user file publishes: trusted %v, publish %+v", p.Trusted, p.Network.Publish)
	}

	for _, bad := range []string{"0", "65536", "05173", "localhost:5173", "-1", ""} {
		_, err := Parse("/w/.sandbox.toml", []byte("[network]\npublish = [\""+bad+"\"]\n"), f.dirs, "/w")
		var pe *PolicyError
		if !errors.As(err, &pe) || len(pe.Diagnostics) != 1 || pe.Diagnostics[0].Line != 2 || !strings.Contains(pe.Diagnostics[0].Message, "port number") {
			t.Errorf("publish %q: %v", bad, err)
		}
	}
}
