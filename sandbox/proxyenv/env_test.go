package proxyenv

import (
	"strings"
	"testing"
)

func envValue(env []string, key string) string { return lookup(env, key) }

func TestEnv(t *testing.T) {
	base := []string{"PATH=/bin", "HTTP_PROXY=http://evil:1", "JAVA_TOOL_OPTIONS=-Xmx1g", "no_proxy=*"}
	env := Env(base, 4321, "/usr/local/bin/cordon")
	want := map[string]string{
		"PATH": "/bin", "HTTP_PROXY": "http://127.0.0.1:4321", "https_proxy": "http://127.0.0.1:4321",
		"ALL_PROXY": "socks5h://127.0.0.1:4321", "all_proxy": "socks5h://127.0.0.1:4321",
		"NO_PROXY": NoProxy, "no_proxy": NoProxy, "npm_config_https_proxy": "http://127.0.0.1:4321",
		"YARN_HTTPS_PROXY": "http://127.0.0.1:4321", "PIP_PROXY": "http://127.0.0.1:4321",
		"GIT_SSH_COMMAND": "/usr/local/bin/cordon git-ssh", "GIT_SSH_VARIANT": "ssh",
		BridgeVar: "127.0.0.1:4321",
	}
	seen := map[string]int{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		seen[k]++
	}
	for k, v := range want {
		if got := envValue(env, k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
		if seen[k] != 1 {
			t.Errorf("%s appears %d times", k, seen[k])
		}
	}
	java := envValue(env, "JAVA_TOOL_OPTIONS")
	if !strings.HasPrefix(java, "-Xmx1g ") || !strings.Contains(java, "-Dhttps.proxyPort=4321") {
		t.Errorf("JAVA_TOOL_OPTIONS = %q", java)
	}
	if got := envValue(Env(nil, 1, "/tmp/my dir/cordon'x"), "GIT_SSH_COMMAND"); got != "cordon git-ssh" {
		t.Errorf("unsafe path went into GIT_SSH_COMMAND: %q", got)
	}
}
