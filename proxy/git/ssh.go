package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/workspace"
)

// SSH remotes: the sandbox's git runs `cordon git-ssh` as its ssh, which
// for an endpoint (ssh://git.cordon.invalid/ID) asks the proxy for
// /ssh/ID/SERVICE with an Upgrade; the proxy runs the host's own ssh, with
// the user's agent, keys and ~/.ssh/config, to the remote the policy
// lists under that id, and relays the stream, checking a push's commands
// (the same receive-pack protocol as over HTTP) before they go on.

// UpgradeSSH is the Upgrade token of an SSH relay request.
const UpgradeSSH = "cordon-git-ssh"

// sshEnvNames are what the host's ssh needs from cordon's environment: the
// user's agent and home, never the sandbox's.
var sshEnvNames = []string{"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "SSH_AUTH_SOCK", "XDG_RUNTIME_DIR"}

// SSHEnv picks from env (cordon's own) what the host's ssh may need.
func SSHEnv(env []string) []string {
	keep := map[string]bool{}
	for _, n := range sshEnvNames {
		keep[n] = true
	}
	var out []string
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); keep[k] {
			out = append(out, kv)
		}
	}
	return append(out, "SSH_ASKPASS_REQUIRE=never")
}

// sshRemotePath is the path as git sends it for the remote: scp-like
// paths as written ("acme/app.git"), URL paths from the root, "~" kept.
func sshRemotePath(r workspace.GitRemote) string {
	if !strings.Contains(r.URL, "://") || strings.HasPrefix(r.Path, "~") {
		return r.Path
	}
	return "/" + r.Path
}

// sqQuote quotes s for the remote shell as git does.
func sqQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func (h *Handler) serveSSH(w http.ResponseWriter, r *http.Request, pol *workspace.Policy, p string) {
	id, svc, _ := strings.Cut(p, "/")
	var remote *workspace.GitRemote
	if pol != nil {
		for i, rm := range pol.Git.Remotes {
			if rm.Scheme == "ssh" && EndpointID(rm.URL) == id {
				remote = &pol.Git.Remotes[i]
				break
			}
		}
	}
	if remote == nil {
		msg := "cordon: no ssh remote of [git].remotes is served at " + clip(r.URL.Path)
		h.report(Event{Remote: workspace.GitRemote{URL: "ssh://" + Host + "/" + clip(id)}, Op: "refs", Reason: "git-unlisted", Message: msg})
		refuse(w, http.StatusForbidden, msg)
		return
	}
	if svc != "git-upload-pack" && svc != "git-receive-pack" {
		refuse(w, http.StatusNotFound, "cordon: only git-upload-pack and git-receive-pack go through cordon's git proxy")
		return
	}
	if r.Method != http.MethodPost || !strings.EqualFold(r.Header.Get("Upgrade"), UpgradeSSH) {
		refuse(w, http.StatusBadRequest, "cordon: an ssh relay is an Upgrade: "+UpgradeSSH)
		return
	}
	host, port := remote.Endpoint()
	if v, rule, _ := matchNet(pol, host, port); v {
		msg := fmt.Sprintf("cordon: %s is denied by %s", remote.URL, RuleText(pol, rule))
		h.report(Event{Remote: *remote, Op: "refs", Reason: "rule", Rule: rule, Message: msg})
		refuse(w, http.StatusForbidden, msg)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		refuse(w, http.StatusInternalServerError, "cordon: cannot relay ssh here")
		return
	}

	args := []string{"-T", "-o", "BatchMode=yes", "-o", "ForwardAgent=no", "-o", "ForwardX11=no",
		"-o", "ClearAllForwardings=yes", "-o", "PermitLocalCommand=no", "-o", "ConnectTimeout=30"}
	if remote.Port != 0 {
		args = append(args, "-p", strconv.Itoa(remote.Port))
	}
	env := h.SSHEnv
	if env == nil {
		env = SSHEnv(os.Environ())
	}
	// ssh finds ~/.ssh in the password database, not $HOME; cordon's
	// user is $HOME's.
	if cfg := userSSHConfig(env); cfg != "" {
		args = append(args, "-F", cfg)
	}
	if remote.User != "" {
		args = append(args, "-l", remote.User)
	}
	if gp := r.Header.Get("Git-Protocol"); gp != "" && validGitProtocol(gp) {
		args = append(args, "-o", "SetEnv=GIT_PROTOCOL="+gp)
	}
	args = append(args, "--", strings.Trim(host, "[]"), svc+" "+sqQuote(sshRemotePath(*remote)))

	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), upstreamTimeout)
	defer cancel()
	bin := h.SSH
	if bin == "" {
		bin = "ssh"
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = "/"
	cmd.Env = env
	var errb limitedBuffer
	errb.max = 8 << 10
	cmd.Stderr = &errb
	cmd.WaitDelay = 2 * time.Second
	stdin, err1 := cmd.StdinPipe()
	stdout, err2 := cmd.StdoutPipe()
	if err := errors.Join(err1, err2); err != nil {
		refuse(w, http.StatusInternalServerError, "cordon: "+err.Error())
		return
	}
	if err := cmd.Start(); err != nil {
		refuse(w, http.StatusBadGateway, "cordon: ssh: "+err.Error())
		return
	}
	defer func() {
		stdin.Close()
		// The remote ends when its input does; one that does not is
		// stopped.
		stop := time.AfterFunc(5*time.Second, cancel)
		err := cmd.Wait()
		stop.Stop()
		if err != nil && ctx.Err() == nil {
			h.logger().Warn("git over ssh", "remote", remote.URL, "err", err, "stderr", strings.TrimSpace(errb.String()))
		}
		cancel()
	}()

	conn, rw, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Time{})
	if _, err := io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: "+UpgradeSSH+"\r\nConnection: Upgrade\r\n\r\n"); err != nil {
		return
	}
	var client io.Reader = conn
	if n := rw.Reader.Buffered(); n > 0 {
		b, _ := rw.Reader.Peek(n)
		client = io.MultiReader(bytes.NewReader(append([]byte(nil), b...)), conn)
	}

	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(conn, stdout)
		// The remote is done (or ssh failed): the client has all it will
		// get, and must not wait for more.
		conn.Close()
		close(done)
	}()
	if svc == "git-upload-pack" {
		h.report(Event{Remote: *remote, Op: "fetch", Allowed: true, Reason: "git-remote", Rule: remote.Source})
		_, _ = io.Copy(stdin, client)
	} else if !h.relayPush(pol, *remote, client, stdin, conn) {
		cancel() // nothing of the push went on: end the remote's side
		conn.Close()
	}
	stdin.Close()
	<-done
}

func validGitProtocol(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune("=:._-", c)) {
			return false
		}
	}
	return len(s) < 200
}

func matchNet(pol *workspace.Policy, host string, port int) (bool, workspace.Source, bool) {
	for _, r := range pol.Network.Deny {
		if (r.Port == 0 || r.Port == port) && workspace.MatchHost(r.Host, host) {
			return true, r.Source, true
		}
	}
	return false, workspace.Source{}, false
}

// relayPush reads the push's commands from the client, decides them and
// either passes the push on to the remote (true) or answers the client
// with the refusal, having read and dropped its pack (false). Nothing of a
// refused push reaches the remote.
func (h *Handler) relayPush(pol *workspace.Policy, remote workspace.GitRemote, client io.Reader, up io.Writer, conn net.Conn) bool {
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Minute))
	push, err := ReadPush(client)
	if err != nil {
		msg := "cordon: push refused: " + clip(err.Error())
		h.report(Event{Remote: remote, Op: "push", Reason: "git-malformed", Message: msg})
		return false
	}
	if len(push.Commands) == 0 {
		_, _ = up.Write(push.Head)
		_ = conn.SetReadDeadline(time.Time{})
		_, _ = io.Copy(up, client)
		return true
	}
	reasons, messages, ev := decidePush(pol, remote, push)
	sendsPack := false
	for _, c := range push.Commands {
		if !c.IsDelete() {
			sendsPack = true
		}
	}
	var spool *os.File
	if sendsPack && (len(reasons) > 0 || needsPack(pol, push)) {
		// Read the pack to its end: to decide fast-forwards, and so a
		// refused client gets its answer instead of a broken pipe.
		f, err := os.CreateTemp(h.TempDir, "cordon-push-")
		if err != nil {
			return false
		}
		os.Remove(f.Name())
		defer f.Close()
		spool = f
		lim := &io.LimitedReader{R: client, N: h.maxPush()}
		graph, err := readPack(io.TeeReader(lim, f), push.HashLen, false)
		if err != nil {
			msg := "cordon: push refused: " + clip(err.Error())
			h.report(Event{Remote: remote, Op: "push", Reason: "git-malformed", Message: msg})
			return false
		}
		if len(reasons) == 0 {
			messages, ev = forceRefusals(pol, remote, push, graph, reasons, messages, ev)
		}
	}
	_ = conn.SetReadDeadline(time.Time{})
	if len(reasons) > 0 {
		for _, e := range ev {
			h.report(e)
		}
		_, _ = conn.Write(push.Refusal(reasons, messages))
		return false
	}
	for _, c := range push.Commands {
		h.report(Event{Remote: remote, Op: "push", Ref: c.Ref, Allowed: true, Reason: "git-push", Rule: matchingRule(pol, c.Ref)})
	}
	if _, err := up.Write(push.Head); err != nil {
		return false
	}
	if spool != nil {
		if _, err := spool.Seek(0, io.SeekStart); err != nil {
			return false
		}
		if _, err := io.Copy(up, spool); err != nil {
			return false
		}
	}
	_, _ = io.Copy(up, client)
	return true
}

// userSSHConfig is $HOME/.ssh/config when it exists.
func userSSHConfig(env []string) string {
	for _, kv := range env {
		if home, ok := strings.CutPrefix(kv, "HOME="); ok && home != "" {
			p := home + "/.ssh/config"
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				return p
			}
		}
	}
	return ""
}
