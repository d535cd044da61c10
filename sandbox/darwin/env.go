package darwin

import (
	"errors"
	"path/filepath"
	"strings"

	"github.com/cordon-dev/cordon/sandbox/proxyenv"
	"github.com/cordon-dev/cordon/workspace"
)

// cacheVars point the usual toolchains at the workspace's own cache
// directory. Seatbelt cannot lay a writable layer over the user's caches
// (as the Linux backend's overlays would), so each workspace gets caches
// of its own, which start cold; nothing a command writes reaches the
// user's caches. CARGO_HOME also moves cargo's config and installed
// binaries.
var cacheVars = []struct{ name, dir string }{
	{"npm_config_cache", "npm"},
	{"YARN_CACHE_FOLDER", "yarn"},
	{"GOMODCACHE", "go-mod"},
	{"GOCACHE", "go-build"},
	{"PIP_CACHE_DIR", "pip"},
	{"CARGO_HOME", "cargo"},
	{"XDG_CACHE_HOME", "xdg"},
}

// CacheDirs are the directories the cache variables name, under cacheDir.
func CacheDirs(cacheDir string) []string {
	var out []string
	for _, v := range cacheVars {
		out = append(out, filepath.Join(cacheDir, v.dir))
	}
	return out
}

// CommandEnv is the command's environment: the caller's, scrubbed of
// secret-looking names unless [env].pass names them, then [env].set, then
// the private temp dir, the cache variables and the proxy variables.
func CommandEnv(base []string, p *workspace.Policy, tempDir, cacheDir string, proxyPort int, self string) []string {
	pass := map[string]bool{}
	for _, e := range p.Env.Pass {
		pass[e.Name] = true
	}
	owned := map[string]bool{"TMPDIR": true, "TMP": true, "TEMP": true, proxyenv.BridgeVar: true}
	if cacheDir != "" {
		for _, v := range cacheVars {
			owned[v.name] = true
		}
	}
	var env []string
	for _, kv := range base {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || !validName(k) || owned[k] || (workspace.IsSecretEnv(k) && !pass[k]) {
			continue
		}
		env = append(env, kv)
	}
	for _, e := range p.Env.Set {
		env = append(env, e.Name+"="+e.Value)
	}
	if tempDir != "" {
		env = append(env, "TMPDIR="+tempDir+"/", "TMP="+tempDir, "TEMP="+tempDir)
	}
	if cacheDir != "" {
		for _, v := range cacheVars {
			env = append(env, v.name+"="+filepath.Join(cacheDir, v.dir))
		}
	}
	if proxyPort > 0 {
		env = proxyenv.Env(env, proxyPort, self)
	}
	return env
}

// validName: /usr/bin/env reads NAME=VALUE words until the first word
// without "=", and a word starting with "-" as an option.
func validName(k string) bool {
	return k != "" && k[0] != '-' && !strings.ContainsAny(k, "\x00")
}

// hostEnv is the whole environment of the host-side processes cordon
// starts (sandbox-exec, log): fixed, never the command's.
var hostEnv = []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin", "LC_ALL=C"}

// Argv is the host-side command line of a run: sandbox-exec applies the
// profile, then /usr/bin/env, already inside the sandbox, sets the
// command's environment and runs it. The command's environment thus never
// reaches a process outside the sandbox.
func Argv(profile string, env, argv []string) ([]string, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, errors.New("no command")
	}
	if strings.Contains(argv[0], "=") {
		// env would read it as one more variable.
		return nil, errors.New("the command's name holds \"=\": run it through a shell or by a path without one")
	}
	for _, a := range append(append([]string{}, env...), argv...) {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, errors.New("an argument or variable holds a NUL byte")
		}
	}
	out := []string{SandboxExec, "-p", profile, "/usr/bin/env", "-i"}
	out = append(out, env...)
	return append(out, argv...), nil
}
