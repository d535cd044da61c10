package git

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits on the part of a push request the proxy parses itself. git's own
// pushes stay far inside them; beyond them a request is refused.
const (
	maxCommands     = 10000
	maxPushOptions  = 256
	maxCommandBytes = 8 << 20
)

// Command is one ref update of a push.
type Command struct {
	Old, New string // object ids; all zeros for "none"
	Ref      string
}

// IsCreate reports whether the command makes a new ref.
func (c Command) IsCreate() bool { return isZero(c.Old) }

// IsDelete reports whether the command removes the ref.
func (c Command) IsDelete() bool { return isZero(c.New) }

func isZero(id string) bool { return strings.Trim(id, "0") == "" }

// Push is the parsed head of a git-receive-pack request: everything before
// the pack.
type Push struct {
	Commands []Command
	Caps     []string // as the client sent them, "side-band-64k", "agent=git/2.43.0", ...
	Options  []string // push options (git push -o)
	HashLen  int      // hex length of an object id: 40 (SHA-1) or 64 (SHA-256)
	// Head is the request's bytes up to the pack, forwarded verbatim once
	// the push is allowed.
	Head []byte
}

// Cap reports whether the client asked for capability name, and its value
// ("agent=git/2.43.0" has the value "git/2.43.0").
func (p *Push) Cap(name string) (string, bool) {
	for _, c := range p.Caps {
		k, v, _ := strings.Cut(c, "=")
		if k == name {
			return v, true
		}
	}
	return "", false
}

// headRecorder keeps what the pkt-line reader consumed, bounded.
type headRecorder struct {
	r   io.Reader
	buf bytes.Buffer
}

var errHeadTooLarge = fmt.Errorf("%w: the commands of a push are over %d bytes", ErrPktLine, maxCommandBytes)

func (h *headRecorder) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if h.buf.Len()+n > maxCommandBytes {
		return 0, errHeadTooLarge
	}
	h.buf.Write(p[:n])
	return n, err
}

// ReadPush parses the commands (and push options) at the start of a
// receive-pack request body, reading exactly up to the pack: what is left
// in r is the pack. Anything git would not send (a bad id, a ref name git
// refuses, a duplicate ref, a missing flush, a signed push) is an error.
func ReadPush(r io.Reader) (*Push, error) {
	rec := &headRecorder{r: r}
	pr := &pktReader{r: rec}
	p := &Push{HashLen: 40}
	seen := map[string]bool{}
	first := true
	for {
		b, special, err := pr.next()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("%w: the request ends before the flush that ends its commands", ErrPktLine)
			}
			return nil, err
		}
		if special == pktFlush {
			break
		}
		if special >= 0 {
			return nil, fmt.Errorf("%w: a protocol v2 delimiter in a push", ErrPktLine)
		}
		line := string(bytes.TrimSuffix(b, []byte("\n")))
		if strings.HasPrefix(line, "shallow ") {
			if len(p.Commands) > 0 {
				return nil, fmt.Errorf("%w: shallow line after the commands", ErrPktLine)
			}
			if !validID(strings.TrimPrefix(line, "shallow "), 0) {
				return nil, fmt.Errorf("%w: bad shallow line", ErrPktLine)
			}
			continue
		}
		if strings.HasPrefix(line, "push-cert") {
			return nil, errors.New("signed pushes (git push --signed) cannot go through cordon's git proxy")
		}
		if first {
			var caps string
			line, caps, _ = strings.Cut(line, "\x00")
			if caps != "" {
				p.Caps = strings.Fields(caps)
			}
			if v, ok := p.Cap("object-format"); ok {
				switch v {
				case "sha1":
				case "sha256":
					p.HashLen = 64
				default:
					return nil, fmt.Errorf("%w: object-format %q", ErrPktLine, v)
				}
			}
			first = false
		}
		c, err := parseCommand(line, p.HashLen)
		if err != nil {
			return nil, err
		}
		if seen[c.Ref] {
			return nil, fmt.Errorf("%w: %s is updated twice", ErrPktLine, c.Ref)
		}
		seen[c.Ref] = true
		if p.Commands = append(p.Commands, c); len(p.Commands) > maxCommands {
			return nil, fmt.Errorf("%w: over %d ref updates in one push", ErrPktLine, maxCommands)
		}
	}
	if _, ok := p.Cap("push-options"); ok && len(p.Commands) > 0 {
		for {
			b, special, err := pr.next()
			if err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
					return nil, fmt.Errorf("%w: the request ends inside its push options", ErrPktLine)
				}
				return nil, err
			}
			if special == pktFlush {
				break
			}
			if special >= 0 {
				return nil, fmt.Errorf("%w: a protocol v2 delimiter in a push", ErrPktLine)
			}
			opt := string(bytes.TrimSuffix(b, []byte("\n")))
			if strings.ContainsAny(opt, "\x00\n") {
				return nil, fmt.Errorf("%w: a push option holds a NUL or newline", ErrPktLine)
			}
			if p.Options = append(p.Options, opt); len(p.Options) > maxPushOptions {
				return nil, fmt.Errorf("%w: over %d push options", ErrPktLine, maxPushOptions)
			}
		}
	}
	// The reader asks for exactly each packet's bytes, so nothing of the
	// pack was read.
	p.Head = rec.buf.Bytes()
	return p, nil
}

// parseCommand reads "OLD NEW REF".
func parseCommand(line string, hashLen int) (Command, error) {
	f := strings.Split(line, " ")
	if len(f) != 3 {
		return Command{}, fmt.Errorf("%w: %q is not \"old-id new-id ref\"", ErrPktLine, clip(line))
	}
	c := Command{Old: f[0], New: f[1], Ref: f[2]}
	if !validID(c.Old, hashLen) || !validID(c.New, hashLen) {
		return Command{}, fmt.Errorf("%w: bad object id in %q", ErrPktLine, clip(line))
	}
	if c.IsCreate() && c.IsDelete() {
		return Command{}, fmt.Errorf("%w: %s: both ids are zero", ErrPktLine, c.Ref)
	}
	if err := checkRefName(c.Ref); err != nil {
		return Command{}, err
	}
	return c, nil
}

// validID: lower-case hex of the given length (40 or 64 when 0).
func validID(s string, n int) bool {
	if n == 0 {
		if len(s) != 40 && len(s) != 64 {
			return false
		}
	} else if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// checkRefName applies git-check-ref-format's rules to a full ref name
// (under refs/), so what the policy matches is what the remote stores.
func checkRefName(ref string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: ref %q %s", ErrPktLine, clip(ref), why)
	}
	if !strings.HasPrefix(ref, "refs/") || len(ref) > 4096 {
		return bad("is not a ref under refs/")
	}
	if strings.HasSuffix(ref, "/") || strings.HasSuffix(ref, ".") || strings.Contains(ref, "//") ||
		strings.Contains(ref, "..") || strings.Contains(ref, "@{") || ref == "@" {
		return bad("is not a valid ref name")
	}
	for _, seg := range strings.Split(ref, "/") {
		if seg == "" || strings.HasPrefix(seg, ".") || strings.HasSuffix(seg, ".lock") {
			return bad("is not a valid ref name")
		}
	}
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		if c < 0x20 || c == 0x7f || strings.IndexByte(" ~^:?*[\\", c) >= 0 {
			return bad("holds a character no ref name may")
		}
	}
	return nil
}

func clip(s string) string {
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// Refusal is the receive-pack response that tells the client its push was
// refused: each ref "ng" with its reason, and, where the client reads the
// side band, each message as a "remote:" line it prints.
func (p *Push) Refusal(reasons map[string]string, messages []string) []byte {
	var status []byte
	status = appendPkt(status, []byte("unpack ok\n"))
	for _, c := range p.Commands {
		why := reasons[c.Ref]
		if why == "" {
			why = "cordon: not pushed, another ref of this push was refused"
		}
		status = appendPkt(status, []byte("ng "+c.Ref+" "+why+"\n"))
	}
	status = appendFlush(status)
	_, v2 := p.Cap("report-status-v2")
	_, v1 := p.Cap("report-status")
	if !v1 && !v2 {
		status = nil
	}
	band := 0
	if _, ok := p.Cap("side-band-64k"); ok {
		band = 65520 - 5
	} else if _, ok := p.Cap("side-band"); ok {
		band = 1000 - 5
	}
	if band == 0 {
		return status
	}
	var out []byte
	for _, m := range messages {
		m = strings.ToValidUTF8(m, "?") + "\n"
		if len(m) > band {
			m = m[:band-1] + "\n"
		}
		out = appendPkt(out, append([]byte{2}, m...))
	}
	for len(status) > 0 {
		n := min(len(status), band)
		out = appendPkt(out, append([]byte{1}, status[:n]...))
		status = status[n:]
	}
	return appendFlush(out)
}
