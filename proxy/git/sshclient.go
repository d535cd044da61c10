package git

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// sshArgOptions are OpenSSH's options that take an argument.
const sshArgOptions = "BbcDEeFIiJLlmOoPpQRSWw"

// SSHDestination finds the destination and the remote command in an
// OpenSSH command line (what git passes its ssh): the first argument that
// is not an option or an option's value.
func SSHDestination(args []string) (dest string, command []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			if i >= len(args) {
				break
			}
			return args[i], args[i+1:], nil
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			return a, args[i+1:], nil
		}
		for j := 1; j < len(a); j++ {
			if strings.IndexByte(sshArgOptions, a[j]) >= 0 {
				if j == len(a)-1 {
					i++ // the value is the next argument
				}
				break
			}
		}
	}
	return "", nil, errors.New("no destination in the ssh command line")
}

// IsEndpointDestination reports whether an ssh destination ([user@]host)
// is the git proxy's endpoint.
func IsEndpointDestination(dest string) bool {
	if i := strings.LastIndexByte(dest, '@'); i >= 0 {
		dest = dest[i+1:]
	}
	return strings.EqualFold(dest, Host)
}

// parseGitCommand reads "git-upload-pack '/ID'" as git sends it.
func parseGitCommand(words []string) (service, path string, err error) {
	cmd := strings.Join(words, " ")
	service, quoted, ok := strings.Cut(cmd, " ")
	if !ok || (service != "git-upload-pack" && service != "git-receive-pack") {
		return "", "", fmt.Errorf("cordon: %q is not a git command cordon relays", clip(cmd))
	}
	path, err = sqUnquote(quoted)
	return service, path, err
}

func sqUnquote(s string) (string, error) {
	var b strings.Builder
	for len(s) > 0 {
		if s[0] != '\'' {
			if strings.HasPrefix(s, `\'`) {
				b.WriteByte('\'')
				s = s[2:]
				continue
			}
			return "", fmt.Errorf("cordon: bad quoting in %q", clip(s))
		}
		end := strings.IndexByte(s[1:], '\'')
		if end < 0 {
			return "", fmt.Errorf("cordon: unterminated quote in %q", clip(s))
		}
		b.WriteString(s[1 : 1+end])
		s = s[2+end:]
	}
	return b.String(), nil
}

// RelaySSH is the in-sandbox half of an ssh remote: it asks the proxy at
// bridge (host:port) to run the remote's git command and relays stdin and
// stdout. gitProtocol is git's GIT_PROTOCOL, passed on.
func RelaySSH(ctx context.Context, bridge string, command []string, gitProtocol string, stdin io.Reader, stdout io.Writer) error {
	service, path, err := parseGitCommand(command)
	if err != nil {
		return err
	}
	id := strings.TrimPrefix(path, "/")
	if len(id) != 16 || strings.Trim(id, "0123456789abcdef") != "" {
		return fmt.Errorf("cordon: %q is not a cordon git endpoint", clip(path))
	}
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	c, err := d.DialContext(dctx, "tcp", bridge)
	cancel()
	if err != nil {
		return fmt.Errorf("cordon: the proxy: %w", err)
	}
	defer c.Close()
	req := "POST http://" + Host + "/ssh/" + id + "/" + service + " HTTP/1.1\r\nHost: " + Host +
		"\r\nConnection: Upgrade\r\nUpgrade: " + UpgradeSSH + "\r\nContent-Length: 0\r\n"
	if gitProtocol != "" && validGitProtocol(gitProtocol) {
		req += "Git-Protocol: " + gitProtocol + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		return err
	}
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Minute))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fmt.Errorf("cordon: the proxy: %w", err)
	}
	_ = c.SetReadDeadline(time.Time{})
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return errors.New(strings.TrimSpace(string(b)))
	}
	go func() {
		_, _ = io.Copy(c, stdin)
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}()
	_, err = io.Copy(stdout, br)
	return err
}
