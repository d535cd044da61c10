package git

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Credential is a username and password (or token) for one remote.
type Credential struct {
	Username, Password string
}

// Credentials gives the host's credential for a remote.
type Credentials interface {
	// Fill returns the credential for the remote (protocol, host with
	// port, path), ok false when the helpers know none.
	//
	// There is no approve or reject, as git itself has: a helper like
	// store rewrites its file (by rename) on either, and a file the
	// sandbox sees masked must not be replaced under it during a run.
	Fill(ctx context.Context, protocol, host, path, user string) (Credential, bool, error)
}

// HostCredentials runs the host's own `git credential`, so whatever helper
// the user configured (store, cache, libsecret, osxkeychain, gh, ...)
// answers. The process gets an environment cordon builds from its own
// (never the sandbox's), runs in a directory no workspace controls, never
// prompts, and is bounded in time and output.
type HostCredentials struct {
	Git     string        // the git binary; default "git" on cordon's PATH
	Env     []string      // the environment to pass on; default HostEnv(os.Environ())
	Timeout time.Duration // default 30s
}

// hostEnvNames are what credential helpers need from cordon's environment:
// where the user's config and stores are, and the session buses keyrings
// talk over. Nothing of the sandbox's reaches here.
var hostEnvNames = []string{
	"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ",
	"XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR",
	"DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY",
	"GNUPGHOME", "PASSWORD_STORE_DIR", "GH_CONFIG_DIR", "GH_TOKEN", "GITHUB_TOKEN", "GH_HOST",
	"GIT_CONFIG_GLOBAL", "SSL_CERT_FILE", "SSL_CERT_DIR",
}

// HostEnv picks from env (cordon's own) what a credential helper may need,
// and turns prompting off.
func HostEnv(env []string) []string {
	keep := map[string]bool{}
	for _, n := range hostEnvNames {
		keep[n] = true
	}
	var out []string
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); keep[k] {
			out = append(out, kv)
		}
	}
	return append(out, "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=", "SSH_ASKPASS=", "GCM_INTERACTIVE=never")
}

// maxCredentialOutput bounds what a helper may answer.
const maxCredentialOutput = 64 << 10

func (h HostCredentials) run(ctx context.Context, action string, input string) ([]byte, error) {
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	bin := h.Git
	if bin == "" {
		bin = "git"
	}
	env := h.Env
	if env == nil {
		env = HostEnv(os.Environ())
	}
	// No repository is in reach: a cloned repository's .git/config could
	// name a credential helper, which is a command.
	cmd := exec.CommandContext(ctx, bin, "-c", "core.askPass=", "credential", action)
	cmd.Dir = "/"
	cmd.Env = append(append([]string(nil), env...), "GIT_DIR=/nonexistent-cordon", "GIT_CEILING_DIRECTORIES=/")
	cmd.Stdin = strings.NewReader(input)
	var out, errb limitedBuffer
	out.max, errb.max = maxCredentialOutput, 4<<10
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if out.over {
		return nil, fmt.Errorf("git credential %s: answer over %d bytes", action, maxCredentialOutput)
	}
	if err != nil {
		return nil, fmt.Errorf("git credential %s: %v: %s", action, err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

func credentialInput(protocol, host, path, user string) (string, error) {
	var b strings.Builder
	for _, kv := range [][2]string{{"protocol", protocol}, {"host", host}, {"path", path}, {"username", user}} {
		if kv[1] == "" {
			continue
		}
		if strings.ContainsAny(kv[1], "\x00\n") {
			return "", fmt.Errorf("credential %s holds a newline or NUL", kv[0])
		}
		fmt.Fprintf(&b, "%s=%s\n", kv[0], kv[1])
	}
	b.WriteString("\n")
	return b.String(), nil
}

// Fill asks the helpers. No credential is not an error: a public remote
// needs none.
func (h HostCredentials) Fill(ctx context.Context, protocol, host, path, user string) (Credential, bool, error) {
	in, err := credentialInput(protocol, host, path, user)
	if err != nil {
		return Credential{}, false, err
	}
	out, err := h.run(ctx, "fill", in)
	if err != nil {
		// With prompts off, "no helper knows" is a failure of fill.
		return Credential{}, false, nil
	}
	var c Credential
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "username":
			c.Username = v
		case "password":
			c.Password = v
		}
	}
	if c.Password == "" {
		return Credential{}, false, nil
	}
	return c, true, nil
}

// limitedBuffer keeps at most max bytes and remembers it was cut.
type limitedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		b.over = true
		b.Buffer.Write(p[:max(0, b.max-b.Len())])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

var _ io.Writer = (*limitedBuffer)(nil)
