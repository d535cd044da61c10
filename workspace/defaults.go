package workspace

import (
	"os"
	"path/filepath"
	"strings"
)

// ProtectedNames are the paths (relative to a workspace folder or $HOME)
// that are never writable and never creatable from inside a sandbox,
// whatever the policy says. Directories end in "/".
func ProtectedNames() []string {
	return []string{
		".sandbox.toml",
		".git/hooks/", ".git/config", ".gitmodules",
		".vscode/", ".idea/", ".nvim.lua", ".nvimrc", ".exrc", ".envrc", ".mcp.json", ".claude/",
		".bashrc", ".bash_profile", ".profile", ".zshrc", ".zprofile", ".gitconfig", ".ripgreprc",
	}
}

// CredentialPaths is the credential set, unreadable by default.
func CredentialPaths(d Dirs) []string {
	rel := []string{
		".ssh", ".aws", ".azure", ".config/gcloud", ".kube", ".docker/config.json", ".netrc",
		".git-credentials", ".config/gh", ".npmrc", ".pypirc", ".gnupg", ".password-store",
	}
	out := make([]string, 0, len(rel)+2)
	for _, r := range rel {
		out = append(out, filepath.Join(d.Home, r))
	}
	return append(out, d.ConfigDir, d.StateDir)
}

// CredentialNamesShown are the directories of the credential set whose
// top-level names (never their contents) a sandbox sees, so that a read
// of one (cat ~/.ssh/id_rsa) opens something cordon can report. Their
// names are the tools' own (id_ed25519, credentials, config, pubring.kbx)
// and say little; left out are ~/.password-store, whose names are the
// index of the user's secrets, and cordon's own directories.
func CredentialNamesShown(d Dirs) []string {
	var out []string
	for _, r := range []string{".ssh", ".aws", ".azure", ".config/gcloud", ".kube", ".config/gh", ".gnupg"} {
		out = append(out, filepath.Join(d.Home, r))
	}
	return out
}

// DefaultCaches are the per-user toolchain caches and tool state that are
// writable copy-on-write in every sandbox: without them npm, go, pip and
// cargo fail or complain on every command. $XDG_CACHE_HOME replaces
// ~/.cache when set. Go's are ~/go/pkg (the module cache and the checksum
// database's, pkg/mod and pkg/sumdb) and ~/.config/go (telemetry, go env -w).
func DefaultCaches(d Dirs) []string {
	cache := filepath.Join(d.Home, ".cache")
	if v := os.Getenv("XDG_CACHE_HOME"); filepath.IsAbs(v) {
		cache = filepath.Clean(v)
	}
	out := []string{cache}
	for _, r := range []string{
		".npm", "go/pkg", ".cargo/registry", ".cargo/git", ".m2/repository",
		".gradle/caches", ".bun/install/cache", ".config/go",
	} {
		out = append(out, filepath.Join(d.Home, r))
	}
	return out
}

// IsSecretEnv reports whether an environment variable looks like a secret
// and is scrubbed unless [env].pass names it.
func IsSecretEnv(name string) bool {
	u := strings.ToUpper(name)
	for _, suffix := range []string{"_TOKEN", "_SECRET", "_PASSWORD", "_KEY", "_CREDENTIALS"} {
		if strings.HasSuffix(u, suffix) {
			return true
		}
	}
	for _, prefix := range []string{"AWS_", "GH_"} {
		if strings.HasPrefix(u, prefix) {
			return true
		}
	}
	switch u {
	case "SSH_AUTH_SOCK", "GITHUB_TOKEN", "NPM_TOKEN":
		return true
	}
	return false
}
