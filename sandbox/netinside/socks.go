package netinside

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// SOCKS5 reply codes (RFC 1928 §6) worth naming in errors.
var socksReplies = map[byte]string{
	1: "general failure",
	2: "connection not allowed by ruleset",
	3: "network unreachable",
	4: "host unreachable",
	5: "connection refused",
	6: "TTL expired",
	7: "command not supported",
	8: "address type not supported",
}

// ErrRefused is wrapped by SOCKSConnect's error when the proxy refused the
// destination (reply 2: the policy said no).
var ErrRefused = errors.New("refused by the sandbox policy")

// SOCKSConnect asks the SOCKS5 server at the other end of c for host:port
// (no authentication, the host sent as a name so the proxy resolves and
// decides it). On success c carries the tunnelled stream. ctx bounds the
// handshake only.
func SOCKSConnect(ctx context.Context, c net.Conn, host string, port int) error {
	if len(host) == 0 || len(host) > 255 {
		return fmt.Errorf("socks: host name of %d bytes", len(host))
	}
	if port < 1 || port > 65535 {
		return fmt.Errorf("socks: port %d out of range", port)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	} else {
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		stop()
		_ = c.SetDeadline(time.Time{})
	}()

	// Greeting and request in one write: one round trip saved.
	req := make([]byte, 0, 3+5+len(host)+2)
	req = append(req, 5, 1, 0)
	req = append(req, 5, 1, 0, 3, byte(len(host)))
	req = append(req, host...)
	req = binary.BigEndian.AppendUint16(req, uint16(port))
	if _, err := c.Write(req); err != nil {
		return fmt.Errorf("socks: %w", err)
	}
	var greet [2]byte
	if _, err := io.ReadFull(c, greet[:]); err != nil {
		return fmt.Errorf("socks greeting: %w", err)
	}
	if greet != [2]byte{5, 0} {
		return fmt.Errorf("socks: the proxy refused the greeting (%d %d)", greet[0], greet[1])
	}
	var head [4]byte
	if _, err := io.ReadFull(c, head[:]); err != nil {
		return fmt.Errorf("socks reply: %w", err)
	}
	if head[0] != 5 {
		return fmt.Errorf("socks: bad reply version %d", head[0])
	}
	if head[1] == 0 && head[2] != 0 {
		return fmt.Errorf("socks: malformed reply (reserved byte %d)", head[2])
	}
	if head[1] != 0 {
		msg := socksReplies[head[1]]
		if msg == "" {
			msg = fmt.Sprintf("reply %d", head[1])
		}
		if head[1] == 2 {
			return fmt.Errorf("%s:%d: %w (%s)", host, port, ErrRefused, msg)
		}
		return fmt.Errorf("%s:%d: %s", host, port, msg)
	}
	var skip int
	switch head[3] {
	case 1:
		skip = 4
	case 4:
		skip = 16
	case 3:
		var l [1]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			return fmt.Errorf("socks reply: %w", err)
		}
		skip = int(l[0])
		if skip == 0 {
			return errors.New("socks: malformed reply (empty bound name)")
		}
	default:
		return fmt.Errorf("socks: bad address type %d in reply", head[3])
	}
	if _, err := io.ReadFull(c, make([]byte, skip+2)); err != nil {
		return fmt.Errorf("socks reply: %w", err)
	}
	return nil
}
