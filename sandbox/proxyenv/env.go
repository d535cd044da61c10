// Package proxyenv holds the environment that points a sandboxed command's
// clients at the network bridge: one small package, because the in-sandbox
// init links it and must stay small to start fast.
package proxyenv

import (
	"strconv"
	"strings"
)

// NoProxy is the sandbox's own loopback: servers a command starts for
// itself are reached directly, never through the proxy.
const NoProxy = "localhost,127.0.0.1,::1"

// BridgeVar names the variable holding the bridge's host:port, which
// `cordon connect` dials.
const BridgeVar = "CORDON_PROXY"

// Env returns base with the variables that point common clients at the
// bridge on 127.0.0.1:port set (replacing any of the same name): curl,
// wget, git, Go and Docker (HTTP(S)_PROXY, ALL_PROXY), npm, yarn, pip,
// Java, and ssh for git through `self connect %h %p`. self is the cordon
// binary as seen inside the sandbox.
func Env(base []string, port int, self string) []string {
	p := strconv.Itoa(port)
	http := "http://127.0.0.1:" + p
	socks := "socks5h://127.0.0.1:" + p
	java := "-Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort=" + p +
		" -Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=" + p +
		" -Dhttp.nonProxyHosts=localhost|127.0.0.1|[::1]"
	if old := lookup(base, "JAVA_TOOL_OPTIONS"); old != "" {
		java = old + " " + java
	}
	set := []string{
		"HTTP_PROXY", http, "HTTPS_PROXY", http, "http_proxy", http, "https_proxy", http,
		"ALL_PROXY", socks, "all_proxy", socks,
		"NO_PROXY", NoProxy, "no_proxy", NoProxy,
		"npm_config_proxy", http, "npm_config_https_proxy", http, "npm_config_noproxy", NoProxy,
		"YARN_HTTP_PROXY", http, "YARN_HTTPS_PROXY", http,
		"PIP_PROXY", http,
		"JAVA_TOOL_OPTIONS", java,
		// git's ssh is cordon git-ssh: listed ssh remotes go through the
		// host's ssh (cordon checks pushes), any other through ssh with
		// cordon connect as its ProxyCommand. The variant makes git pass
		// OpenSSH's options (-p, -o SendEnv=GIT_PROTOCOL) to it.
		"GIT_SSH_COMMAND", shellSafe(self) + " git-ssh",
		"GIT_SSH_VARIANT", "ssh",
		BridgeVar, "127.0.0.1:" + p,
	}
	names := map[string]bool{}
	for i := 0; i < len(set); i += 2 {
		names[set[i]] = true
	}
	out := make([]string, 0, len(base)+len(set)/2)
	for _, kv := range base {
		if k, _, _ := strings.Cut(kv, "="); !names[k] {
			out = append(out, kv)
		}
	}
	for i := 0; i < len(set); i += 2 {
		out = append(out, set[i]+"="+set[i+1])
	}
	return out
}

func lookup(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// shellSafe returns path when both the shell that runs GIT_SSH_COMMAND and
// the one ssh runs the ProxyCommand with read it as one plain word, and
// "cordon" (found on PATH) otherwise.
func shellSafe(path string) string {
	if path == "" {
		return "cordon"
	}
	for _, r := range path {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+", r)
		if !ok {
			return "cordon"
		}
	}
	return path
}
