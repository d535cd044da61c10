package git

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cordon-dev/cordon/workspace"
)

// Host is the name the sandbox's git reaches the git proxy by. It goes
// through the proxy like any plain-HTTP request (the sandbox's http_proxy
// points there) and resolves nowhere else: ".invalid" is reserved.
const Host = "git.cordon.invalid"

// EndpointID names a remote in endpoint paths: the same remote gets the
// same id across policy reloads, and nothing the sandbox writes in a path
// chooses where the proxy connects.
func EndpointID(remoteURL string) string {
	sum := sha256.Sum256([]byte(remoteURL))
	return hex.EncodeToString(sum[:8])
}

// Endpoint is the URL the sandbox's git uses instead of the remote.
func Endpoint(remoteURL string) string {
	return "http://" + Host + "/" + EndpointID(remoteURL)
}

// SSHEndpoint is the URL the sandbox's git uses instead of an ssh remote:
// its ssh (cordon git-ssh) hands it to the proxy.
func SSHEndpoint(remoteURL string) string {
	return "ssh://" + Host + "/" + EndpointID(remoteURL)
}

// Env returns base with git configuration (GIT_CONFIG_COUNT,
// GIT_CONFIG_KEY_n, GIT_CONFIG_VALUE_n, after any the environment holds
// already) that sends each remote to its endpoint: the URL stays as
// written in the repository, git rewrites it with url.<endpoint>.insteadOf.
// A remote written with ".git" also covers the spelling without it.
func Env(base []string, remotes []workspace.GitRemote) []string {
	var pairs [][2]string
	for _, r := range remotes {
		key := "url." + Endpoint(r.URL) + ".insteadOf"
		if r.Scheme == "ssh" {
			key = "url." + SSHEndpoint(r.URL) + ".insteadOf"
		}
		pairs = append(pairs, [2]string{key, r.URL})
		if bare, ok := strings.CutSuffix(r.URL, ".git"); ok {
			pairs = append(pairs, [2]string{key, bare})
		}
	}
	if len(pairs) == 0 {
		return base
	}
	n := 0
	var out []string
	for _, kv := range base {
		k, v, _ := strings.Cut(kv, "=")
		if k == "GIT_CONFIG_COUNT" {
			if c, err := strconv.Atoi(v); err == nil && c >= 0 && c < 1000 {
				n = c
			}
			continue
		}
		out = append(out, kv)
	}
	for i, p := range pairs {
		idx := strconv.Itoa(n + i)
		out = append(out, "GIT_CONFIG_KEY_"+idx+"="+p[0], "GIT_CONFIG_VALUE_"+idx+"="+p[1])
	}
	return append(out, "GIT_CONFIG_COUNT="+strconv.Itoa(n+len(pairs)))
}

// RuleText renders where a rule is written as refusals show it: relative
// to the workspace root when the file is inside it (".sandbox.toml:14").
func RuleText(p *workspace.Policy, s workspace.Source) string {
	if s.IsDefault() {
		return "default"
	}
	if p != nil {
		if rel, err := filepath.Rel(p.Root, s.File); err == nil && !strings.HasPrefix(rel, "..") {
			return rel + ":" + strconv.Itoa(s.Line)
		}
	}
	return s.String()
}
