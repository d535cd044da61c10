package proxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"
)

const socksVersion = 5

// SOCKS5 replies (RFC 1928).
const (
	socksSucceeded       = 0
	socksGeneralFailure  = 1
	socksNotAllowed      = 2
	socksHostUnreachable = 4
	socksCmdNotSupported = 7
	socksAddrNotSupport  = 8
)

// socksRequest is a parsed SOCKS5 request.
type socksRequest struct {
	Cmd  byte
	Host string // a name (ATYP 3) or an IP literal
	Port int
}

var errSOCKS = errors.New("malformed SOCKS5 request")

// readSOCKSGreeting reads the method list (the version byte is already
// read) and reports whether "no authentication" is offered.
func readSOCKSGreeting(r io.Reader) (bool, error) {
	var n [1]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return false, err
	}
	methods := make([]byte, n[0])
	if _, err := io.ReadFull(r, methods); err != nil {
		return false, err
	}
	for _, m := range methods {
		if m == 0 {
			return true, nil
		}
	}
	return false, nil
}

// readSOCKSRequest parses VER CMD RSV ATYP DST.ADDR DST.PORT. A domain is
// returned as sent; the decision canonicalises it (and refuses NUL and
// control characters) before anything else.
func readSOCKSRequest(r io.Reader) (socksRequest, byte, error) {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return socksRequest{}, socksGeneralFailure, err
	}
	if head[0] != socksVersion || head[2] != 0 {
		return socksRequest{}, socksGeneralFailure, errSOCKS
	}
	req := socksRequest{Cmd: head[1]}
	switch head[3] {
	case 1:
		var a [4]byte
		if _, err := io.ReadFull(r, a[:]); err != nil {
			return req, socksGeneralFailure, err
		}
		req.Host = netip.AddrFrom4(a).String()
	case 4:
		var a [16]byte
		if _, err := io.ReadFull(r, a[:]); err != nil {
			return req, socksGeneralFailure, err
		}
		req.Host = netip.AddrFrom16(a).String()
	case 3:
		var n [1]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return req, socksGeneralFailure, err
		}
		if n[0] == 0 {
			return req, socksNotAllowed, errSOCKS
		}
		name := make([]byte, n[0])
		if _, err := io.ReadFull(r, name); err != nil {
			return req, socksGeneralFailure, err
		}
		req.Host = string(name)
	default:
		return req, socksAddrNotSupport, errSOCKS
	}
	var p [2]byte
	if _, err := io.ReadFull(r, p[:]); err != nil {
		return req, socksGeneralFailure, err
	}
	req.Port = int(binary.BigEndian.Uint16(p[:]))
	if req.Port == 0 {
		return req, socksNotAllowed, fmt.Errorf("port 0")
	}
	return req, 0, nil
}

func socksReply(w io.Writer, code byte) error {
	_, err := w.Write([]byte{socksVersion, code, 0, 1, 0, 0, 0, 0, 0, 0})
	return err
}

func (s *Session) serveSOCKS(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	ok, err := readSOCKSGreeting(c)
	if err != nil {
		return
	}
	if !ok {
		_, _ = c.Write([]byte{socksVersion, 0xff})
		return
	}
	if _, err := c.Write([]byte{socksVersion, 0}); err != nil {
		return
	}
	req, code, err := readSOCKSRequest(c)
	_ = c.SetReadDeadline(time.Time{})
	if err != nil {
		if code == socksNotAllowed {
			s.record(Decision{Time: time.Now(), RunID: s.cfg.RunID, Command: s.cfg.Command, Host: sanitize(req.Host),
				Port: req.Port, Action: ActionDeny, Reason: "invalid-host", RuleText: "default"})
		}
		if code != 0 {
			_ = socksReply(c, code)
		}
		return
	}
	if req.Cmd != 1 { // CONNECT only: BIND and UDP ASSOCIATE are refused
		_ = socksReply(c, socksCmdNotSupported)
		return
	}
	t, d := s.decide(req.Host, req.Port)
	switch d.Action {
	case ActionAllow:
	case ActionUnreachable:
		_ = socksReply(c, socksHostUnreachable)
		return
	default:
		_ = socksReply(c, socksNotAllowed)
		return
	}
	up, err := s.cfg.dial(s.ctx, t.addr)
	if err != nil {
		s.unreachable(d, err)
		_ = socksReply(c, socksHostUnreachable)
		return
	}
	if !s.track(up) {
		up.Close()
		return
	}
	defer s.untrack(up)
	if err := socksReply(c, socksSucceeded); err != nil {
		return
	}
	s.relayChecked(c, nil, up, d)
}

func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c == 0x7f {
			b[i] = '?'
		}
	}
	return string(b)
}
