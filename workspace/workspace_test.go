package workspace

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testDirs(t *testing.T) Dirs {
	t.Helper()
	home := t.TempDir()
	return Dirs{Home: home, ConfigDir: filepath.Join(home, ".config", "cordon"), StateDir: filepath.Join(home, ".local", "state", "cordon")}
}

func mustParse(t *testing.T, src string) *File {
	t.Helper()
	d := testDirs(t)
	f, err := Parse("/ws/.sandbox.toml", []byte(src), d, "/ws")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}

func parseErrors(t *testing.T, src string) []Diagnostic {
	t.Helper()
	_, err := Parse("/ws/.sandbox.toml", []byte(src), testDirs(t), "/ws")
	var pe *PolicyError
	if !errors.As(err, &pe) {
		t.Fatalf("Parse(%q) = %v, want a *PolicyError", src, err)
	}
	return pe.Diagnostics
}

func TestParseFullExample(t *testing.T) {
	f := mustParse(t, `
[filesystem]
allow_write = ["~/.cache/go-build", "../shared"]
deny_write  = [".env", "secrets/**", "*.pem"]
deny_read   = ["~/.aws", "secrets/**"]
allow_read  = ["~/.aws/config"]

[network]
allow   = ["github.com", "*.npmjs.org", "registry.npmjs.org:443", "localhost:5173"]
deny    = ["telemetry.example.com"]
unknown = "ask"
allow_unix_sockets = ["/run/user/1000/ssh-agent.sock"]

[env]
pass = ["NPM_TOKEN"]
set  = { CI = "1" }

[limits]
timeout   = "15m"
memory    = "8GiB"
processes = 1024
`)
	if got := f.Filesystem.AllowWrite[1].Path; got != "/shared" {
		t.Errorf("../shared expanded to %q", got)
	}
	if got := f.Filesystem.DenyWrite[1]; got.Path != "/ws/secrets/**" || got.Source.Line != 4 || got.Source.Col != 24 {
		t.Errorf("deny_write[1] = %+v col %d", got, got.Source.Col)
	}
	if got := f.Network.Allow[2]; got.Host != "registry.npmjs.org" || got.Port != 443 || got.Source.Line != 9 {
		t.Errorf("allow[2] = %+v", got)
	}
	if got := f.Network.Allow[1].Host; got != "*.npmjs.org" {
		t.Errorf("wildcard = %q", got)
	}
	if f.Limits.Memory != 8<<30 || f.Limits.Processes != 1024 || f.Limits.Timeout.Minutes() != 15 {
		t.Errorf("limits = %+v", f.Limits)
	}
	if len(f.Env.Set) != 1 || f.Env.Set[0].Name != "CI" || f.Env.Set[0].Source.Line != 16 {
		t.Errorf("env.set = %+v", f.Env.Set)
	}
	if f.Network.Unknown != UnknownAsk || f.Network.UnknownSource.Line != 11 {
		t.Errorf("unknown = %v at %v", f.Network.Unknown, f.Network.UnknownSource)
	}
}

func TestParseErrorsHavePositions(t *testing.T) {
	for _, tc := range []struct {
		name, src  string
		line, col  int
		msgContain string
	}{
		{"unknown key", "[filesystem]\nallow_writ = [\"x\"]\n", 2, 1, "unknown key"},
		{"unknown table", "[network]\nallow = []\n[netwrk]\nallow = []\n", 3, 1, "unknown key"},
		{"bad host element", "[network]\nallow = [\"ok.example\",\n  \"bad host\"]\n", 3, 3, "space"},
		{"wildcard everything", "[network]\nallow = [\"*\"]\n", 2, 10, "allow-everything"},
		{"bad port", "[network]\ndeny = [\"a.example:99999\"]\n", 2, 9, "port"},
		{"bad unknown", "[network]\nunknown = \"maybe\"\n", 2, 11, "ask"},
		{"bad glob", "[filesystem]\ndeny_read = [\"a/[b\"]\n", 2, 14, "glob"},
		{"double star inside segment", "[filesystem]\ndeny_read = [\"a/x**\"]\n", 2, 14, "whole path segment"},
		{"tilde user", "[filesystem]\ndeny_read = [\"~bob/x\"]\n", 2, 14, "~user"},
		{"bad duration", "[limits]\ntimeout = \"soon\"\n", 2, 11, "duration"},
		{"bad size", "[limits]\nmemory = \"lots\"\n", 2, 10, "size"},
		{"zero processes", "[limits]\nprocesses = 0\n", 2, 13, "processes"},
		{"wrong type", "[network]\nallow = \"github.com\"\n", 2, 9, "want an array of strings, got a string"},
		{"wrong element type", "[network]\nallow = [\"a.example\",\n   42]\n", 3, 4, "got an integer"},
		{"table is a string", "network = \"open\"\n", 1, 11, "want a table"},
		{"processes is a string", "[limits]\nprocesses = \"many\"\n", 2, 13, "want an integer"},
		{"memory is a bool", "[limits]\nmemory = true\n", 2, 10, "size"},
		{"set is an array", "[env]\nset = [\"A=1\"]\n", 2, 7, "table of strings"},
		{"set value not string", "[env]\nset = { A = 1 }\n", 2, 13, "want a string"},
		{"dotted key", "filesystem.deny_read = [\"ok\", \"a/[b\"]\n", 1, 31, "glob"},
		{"dotted unknown key", "# c\nfilesystem.alow_read = []\n", 2, 1, "unknown key \"alow_read\""},
		{"quoted key", "[network]\n\"allow\" = [ \"bad host\" ]\n", 2, 13, "space"},
		{"inline env table", "env = { pass = [\"OK\", \"A-B\"] }\n", 1, 23, "variable name"},
		{"env set table", "[env.set]\n\"A B\" = \"1\"\n", 2, 1, "variable name"},
		{"comments and brackets in strings", "[network]\nallow = [ # first [\n  \"a]b.example\", # \"x\"\n  \"ok.example\",\n  \"x y\",\n]\n", 3, 3, ""},
		{"multi-line string before", "[env]\nset = { A = \"\"\"\n[network]\nallow = [\"zz\"]\"\"\" }\n[network]\nallow = [\"q q\"]\n", 6, 10, "space"},
		{"unknown top-level table", "[filesystem]\n[ netwrk ]\n", 2, 1, "unknown key \"netwrk\""},
		{"array of tables", "[[network]]\nallow = []\n", 1, 1, "want a table"},
		{"syntax: unclosed header", "[network\n", 1, 9, "end table name"},
		{"syntax: unclosed array", "[filesystem]\nallow_write = [\"a\", \"b\"\ndeny_read = []\n", 3, 1, "comma"},
		{"syntax: duplicate key", "[network]\nallow = []\nallow = []\n", 3, 1, "already been defined"},
		{"syntax: newline in string", "[network]\nallow = [\"a\n\"]\n", 2, 12, "newline"},
		{"bad env name", "[env]\npass = [\"A B\"]\n", 2, 9, "variable name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := parseErrors(t, tc.src)
			d := ds[0]
			if d.Line != tc.line || (tc.col != 0 && d.Col != tc.col) {
				t.Errorf("at %d:%d, want %d:%d (%s)", d.Line, d.Col, tc.line, tc.col, d.Message)
			}
			if !strings.Contains(d.Message, tc.msgContain) {
				t.Errorf("message %q lacks %q", d.Message, tc.msgContain)
			}
			if !strings.HasPrefix(d.Error(), "/ws/.sandbox.toml:") {
				t.Errorf("Error() = %q", d.Error())
			}
		})
	}
}

func TestParseCollectsEveryError(t *testing.T) {
	ds := parseErrors(t, "[network]\nallow = [\"a b\", \"c\\u0000d\"]\nunknown = \"x\"\n")
	if len(ds) != 3 {
		t.Fatalf("got %d diagnostics, want 3: %v", len(ds), ds)
	}
}

func TestParseNULByte(t *testing.T) {
	ds := parseErrors(t, "[network]\nallow = [\"a\x00b\"]\n")
	if len(ds) == 0 {
		t.Fatal("a NUL byte passed")
	}
}

func TestWarnings(t *testing.T) {
	d := testDirs(t)
	src := "[filesystem]\nallow_write = [\"/\", \"~\", \"/var/run/docker.sock\", \"data\"]\ndeny_read = [\"data\"]\nallow_read = [\"/opt/x\"]\n[network]\nallow = [\"*.com\"]\n"
	f, err := Parse("/ws/.sandbox.toml", []byte(src), d, "/ws")
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, w := range f.Warnings() {
		if w.Severity != SeverityWarning || w.Line == 0 {
			t.Errorf("bad warning %+v", w)
		}
		msgs = append(msgs, w.Message)
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"whole machine", "whole home", "docker", "both denied", "changes nothing", "top-level domain", "inside the workspace"} {
		if !strings.Contains(all, want) {
			t.Errorf("no warning mentioning %q in:\n%s", want, all)
		}
	}
}

func TestCanonicalHost(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"GitHub.COM", "github.com"},
		{"github.com.", "github.com"},
		{"bücher.example", "xn--bcher-kva.example"},
		{"127.0.0.1", "127.0.0.1"},
		{"::1", "[::1]"},
		{"[::1]", "[::1]"},
		{"[0:0:0:0:0:0:0:1]", "[::1]"},
		{"::ffff:10.0.0.1", "10.0.0.1"},
		{"[::ffff:10.0.0.1]", "10.0.0.1"},
		{"LOCALHOST.", "localhost"},
		{"\uff25xample.com", "example.com"}, // fullwidth E: IDNA maps it
		{"\u00e9xample.com", "xn--xample-9ua.com"},
		{"xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"[2001:DB8::1]", "[2001:db8::1]"},
	} {
		got, err := CanonicalHost(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("CanonicalHost(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "a\x00b.example.com", "a b", "tab\there", "a..b", ".", "x\n", strings.Repeat("a.", 140) + "com",
		strings.Repeat("a", 64) + ".com", "[::1", "[1.2.3.4]", "1.2.3", "0x7f.1", "fe80::1%eth0",
		"0177.0.0.1", "2130706433", "1.2.3.4.", "[fe80::1%eth0]", "a\x7fb.com", "a\u0085b.com", "a_b.example", "-a.example",
		"exa\xffmple.com", "a.example.com\x00.evil.net", strings.Repeat("a", 5000)} {
		if got, err := CanonicalHost(bad); err == nil {
			t.Errorf("CanonicalHost(%q) = %q, want an error", bad, got)
		}
	}
}

func TestMatchHost(t *testing.T) {
	for _, tc := range []struct {
		pattern, host string
		want          bool
	}{
		{"*.example.com", "a.example.com", true},
		{"*.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "evilexample.com", false},
		{"*.example.com", "example.com.evil.net", false},
		{"example.com", "example.com", true},
		{"example.com", "a.example.com", false},
	} {
		if got := MatchHost(tc.pattern, tc.host); got != tc.want {
			t.Errorf("MatchHost(%q, %q) = %v", tc.pattern, tc.host, got)
		}
	}
}

func TestParseHostRule(t *testing.T) {
	for _, tc := range []struct {
		in   string
		host string
		port int
	}{
		{"GitHub.com:443", "github.com", 443},
		{"*.NPMJS.org", "*.npmjs.org", 0},
		{"[::1]:8080", "[::1]", 8080},
		{"10.0.0.7:5432", "10.0.0.7", 5432},
		{"localhost:5173", "localhost", 5173},
		{"[::1]", "[::1]", 0},
		{"GITHUB.COM.:443", "github.com", 443},
		{"*.B\u00fccher.example", "*.xn--bcher-kva.example", 0},
		{"*.com", "*.com", 0}, // valid, with a warning
		{"[::ffff:10.0.0.7]:5432", "10.0.0.7", 5432},
	} {
		r, err := ParseHostRule(tc.in)
		if err != nil || r.Host != tc.host || r.Port != tc.port {
			t.Errorf("ParseHostRule(%q) = %+v, %v", tc.in, r, err)
		}
	}
	for _, bad := range []string{"*", "*.", "a.*.com", "*.10.0.0.1", "::1", "host:", "host:0", "host:x", "[::1]x", "*.*.com", "a*.com", "*example.com", "host:-1", "host:+80", "host:65536", "[fe80::1%eth0]:80", "*.[::1]", "", " github.com"} {
		if r, err := ParseHostRule(bad); err == nil {
			t.Errorf("ParseHostRule(%q) = %+v, want an error", bad, r)
		}
	}
}

func TestIsSecretEnv(t *testing.T) {
	for name, want := range map[string]bool{
		"NPM_TOKEN": true, "GITHUB_TOKEN": true, "DEPLOY_TOKEN": true, "DB_PASSWORD": true, "API_KEY": true, "X_SECRET": true,
		"GOOGLE_CREDENTIALS": true, "AWS_REGION": true, "GH_HOST": true, "SSH_AUTH_SOCK": true,
		"PATH": false, "HOME": false, "KEYBOARD": false, "TOKENIZER": false, "GOPATH": false,
	} {
		if got := IsSecretEnv(name); got != want {
			t.Errorf("IsSecretEnv(%q) = %v", name, got)
		}
	}
}

func TestFindRoot(t *testing.T) {
	base, _ := filepath.EvalSymlinks(t.TempDir())
	deep := filepath.Join(base, "repo", "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, _ := FindRoot(deep); got != deep {
		t.Errorf("no markers: %q", got)
	}
	os.Mkdir(filepath.Join(base, "repo", ".git"), 0o755)
	if got, _ := FindRoot(deep); got != filepath.Join(base, "repo") {
		t.Errorf(".git: %q", got)
	}
	os.WriteFile(filepath.Join(base, "repo", "a", ".sandbox.toml"), nil, 0o644)
	if got, _ := FindRoot(deep); got != filepath.Join(base, "repo", "a") {
		t.Errorf(".sandbox.toml wins over .git: %q", got)
	}
}

func TestStarterParses(t *testing.T) {
	if _, err := Parse("/ws/.sandbox.toml", Starter(), testDirs(t), "/ws"); err != nil {
		t.Fatal(err)
	}
}

// The rules of a sensible policy raise no warning: a warning that always
// fires is noise the user learns to ignore.
func TestNoWarningsForSensiblePolicy(t *testing.T) {
	data, err := os.ReadFile("../testdata/policies/valid/design-example.toml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("/ws/.sandbox.toml", data, sampleDirs, "/ws")
	if err != nil {
		t.Fatal(err)
	}
	if w := f.Warnings(); len(w) != 0 {
		t.Fatalf("warnings: %v", w)
	}
}

// The starter names the registries of the toolchains it finds, commented
// out, and each suggestion parses once uncommented.
func TestStarterSuggestsRegistries(t *testing.T) {
	root := t.TempDir()
	if s := string(StarterFor(root)); strings.Contains(s, "registries of the toolchains") {
		t.Fatalf("an empty workspace got suggestions:\n%s", s)
	}
	for _, f := range []string{"package.json", "go.mod", "pyproject.toml", "Cargo.toml"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := string(StarterFor(root))
	want := `# allow   = ["registry.npmjs.org:443", "proxy.golang.org:443", "sum.golang.org:443", "pypi.org:443", "files.pythonhosted.org:443", "index.crates.io:443", "static.crates.io:443"]`
	if !strings.Contains(s, want+"\n") || !strings.Contains(s, "(npm, Go, Python, Rust)") {
		t.Fatalf("starter:\n%s", s)
	}
	p, err := Parse("/ws/.sandbox.toml", []byte(strings.Replace(s, want, want[2:], 1)), testDirs(t), "/ws")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Network.Allow) != 7 {
		t.Fatalf("uncommented suggestion allows %d hosts, want 7", len(p.Network.Allow))
	}
	if _, err := Parse("/ws/.sandbox.toml", []byte(s), testDirs(t), "/ws"); err != nil {
		t.Fatal(err)
	}
}

// A toolchain one directory down counts; one in node_modules does not.
func TestStarterLooksOneLevelDown(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"svc/go.mod", "node_modules/x/package.json", "node_modules/Cargo.toml"} {
		os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755)
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := string(StarterFor(root))
	if !strings.Contains(s, `"proxy.golang.org:443", "sum.golang.org:443"]`) || strings.Contains(s, "crates") || strings.Contains(s, "npmjs") {
		t.Fatalf("starter:\n%s", s)
	}
}
