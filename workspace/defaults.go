package workspace

import (
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
