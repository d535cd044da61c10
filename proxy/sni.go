package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/elazarl/goproxy"

	"github.com/cordon-dev/cordon/workspace"
)

// A tunnel's destination is decided by the CONNECT target, but a shared
// front (a CDN) routes by the name inside: the TLS ClientHello's server
// name, or a plain HTTP request's Host. A tunnel whose first bytes name
// another server than the one allowed is domain fronting, and is refused
// before a byte of it goes upstream. TLS is not terminated: the ClientHello
// is read as it passes.

// Bounds on what a tunnel's first message may take.
const (
	maxHelloBytes   = 64 << 10 // a ClientHello with post-quantum key shares is a few KiB
	helloTimeout    = 30 * time.Second
	tlsRecordHeader = 5
)

var errNotHello = errors.New("not a TLS ClientHello")

// clientHello is what the proxy needs of a ClientHello.
type clientHello struct {
	serverName string // "" when the client sent none
	// ech: the hello carries an encrypted_client_hello extension. Chrome
	// sends one (GREASE) in every hello, so it is not refused: the outer
	// name must still match, and a real encrypted inner name can only
	// front through a host that is itself an ECH front the policy allows.
	ech bool
}

// readClientHello reads TLS records from r until they hold a whole
// handshake message, which must be a ClientHello, and returns the bytes
// read (to forward as they were) and what the hello says.
func readClientHello(r io.Reader) ([]byte, clientHello, error) {
	var raw, msg []byte
	need := -1 // length of the handshake message, once known
	for need < 0 || len(msg) < need {
		var hdr [tlsRecordHeader]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return raw, clientHello{}, fmt.Errorf("TLS record: %w", err)
		}
		raw = append(raw, hdr[:]...)
		n := int(hdr[3])<<8 | int(hdr[4])
		if hdr[0] != 0x16 || hdr[1] != 3 || n == 0 || n > 1<<14+2048 {
			return raw, clientHello{}, errNotHello
		}
		if len(raw)+n > maxHelloBytes {
			return raw, clientHello{}, fmt.Errorf("a ClientHello over %d bytes", maxHelloBytes)
		}
		body := make([]byte, n)
		got, err := io.ReadFull(r, body)
		raw = append(raw, body[:got]...)
		if err != nil {
			return raw, clientHello{}, fmt.Errorf("TLS record: %w", err)
		}
		msg = append(msg, body...)
		if need < 0 && len(msg) >= 4 {
			if msg[0] != 1 {
				return raw, clientHello{}, errNotHello
			}
			need = 4 + (int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3]))
			if need > maxHelloBytes {
				return raw, clientHello{}, fmt.Errorf("a ClientHello over %d bytes", maxHelloBytes)
			}
		}
	}
	if len(msg) != need {
		// Data after the hello in its records: not what a client sends.
		return raw, clientHello{}, errNotHello
	}
	h, err := parseClientHello(msg[4:])
	return raw, h, err
}

// parseClientHello reads the body of a ClientHello (RFC 8446 4.1.2).
func parseClientHello(b []byte) (clientHello, error) {
	var h clientHello
	bad := fmt.Errorf("%w: malformed", errNotHello)
	take := func(n int) ([]byte, bool) {
		if n < 0 || len(b) < n {
			return nil, false
		}
		v := b[:n]
		b = b[n:]
		return v, true
	}
	vec := func(lenBytes int) ([]byte, bool) {
		l, ok := take(lenBytes)
		if !ok {
			return nil, false
		}
		n := 0
		for _, c := range l {
			n = n<<8 | int(c)
		}
		return take(n)
	}
	if _, ok := take(2 + 32); !ok { // legacy_version, random
		return h, bad
	}
	if _, ok := vec(1); !ok { // legacy_session_id
		return h, bad
	}
	if _, ok := vec(2); !ok { // cipher_suites
		return h, bad
	}
	if _, ok := vec(1); !ok { // legacy_compression_methods
		return h, bad
	}
	if len(b) == 0 {
		return h, nil // no extensions: no name
	}
	exts, ok := vec(2)
	if !ok || len(b) != 0 {
		return h, bad
	}
	b = exts
	seen := map[int]bool{}
	for len(b) > 0 {
		t, ok1 := take(2)
		data, ok2 := vec(2)
		if !ok1 || !ok2 {
			return h, bad
		}
		typ := int(t[0])<<8 | int(t[1])
		if seen[typ] {
			return h, fmt.Errorf("%w: extension %d twice", errNotHello, typ)
		}
		seen[typ] = true
		switch typ {
		case 0: // server_name
			name, err := parseServerName(data)
			if err != nil {
				return h, err
			}
			h.serverName = name
		case 0xfe0d: // encrypted_client_hello
			h.ech = true
		}
	}
	return h, nil
}

// parseServerName reads a server_name extension: exactly one host_name.
func parseServerName(d []byte) (string, error) {
	bad := fmt.Errorf("%w: malformed server_name", errNotHello)
	if len(d) < 2 || int(d[0])<<8|int(d[1]) != len(d)-2 {
		return "", bad
	}
	d = d[2:]
	name := ""
	for len(d) > 0 {
		if len(d) < 3 {
			return "", bad
		}
		typ, n := d[0], int(d[1])<<8|int(d[2])
		if len(d) < 3+n {
			return "", bad
		}
		if typ == 0 {
			if name != "" || n == 0 {
				return "", bad
			}
			name = string(d[3 : 3+n])
		}
		d = d[3+n:]
	}
	return name, nil
}

// tunnelFirst reads what the client sends first through an allowed
// tunnel to host:port and says whether it may go upstream: a ClientHello
// must name host (or no name at all), a plain HTTP request must carry a
// Host of host; anything else (SSH, a database protocol) passes. It
// returns the bytes to forward first. A refusal is recorded as a decision.
func (s *Session) tunnelFirst(c net.Conn, r io.Reader, d Decision) ([]byte, bool) {
	// A client may wait for the server to speak first (a database, say),
	// so the first byte gets longer than the rest of the message.
	_ = c.SetReadDeadline(time.Now().Add(4 * helloTimeout))
	defer c.SetReadDeadline(time.Time{})
	br := bufio.NewReaderSize(r, maxHeaderBytes)
	first, err := br.Peek(1)
	if err != nil {
		return nil, errors.Is(err, io.EOF) // nothing sent: nothing to check
	}
	_ = c.SetReadDeadline(time.Now().Add(helloTimeout))
	refuse := func(name, why string) ([]byte, bool) {
		d.Time, d.Action, d.Reason = time.Now(), "deny", why
		d.SNI = strings.ToValidUTF8(strings.Map(printable, name), "?")
		s.record(d)
		return nil, false
	}
	switch {
	case first[0] == 0x16:
		raw, hello, err := readClientHello(br)
		switch {
		case err != nil:
			return refuse("", "sni-unreadable")
		case hello.serverName != "" && !sameHost(hello.serverName, d.Host):
			// A TLS alert (unrecognized_name) so the client says why.
			_, _ = c.Write([]byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x70})
			return refuse(hello.serverName, "sni-mismatch")
		}
		return append(raw, drain(br)...), true
	case looksLikeHTTP(br):
		hdr, err := peekHeader(br)
		if err != nil {
			return refuse("", "host-unreadable")
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(hdr)))
		if err != nil {
			return refuse("", "host-unreadable")
		}
		if req.Host == "" {
			return drain(br), true // no name to front with
		}
		host, port, err := hostPort(req.Host, d.Port)
		if err != nil || !sameHost(host, d.Host) || port != d.Port {
			writeHTTPError(c, 403, fmt.Sprintf("cordon: Host %q is not the tunnel's %s", clip(req.Host), d.Target()))
			return refuse(req.Host, "host-mismatch")
		}
		return drain(br), true
	}
	return drain(br), true
}

func clip(s string) string {
	if len(s) > 100 {
		s = s[:100]
	}
	return strings.ToValidUTF8(s, "?")
}

// peekHeader waits until br holds a whole request header and returns it,
// leaving it buffered.
func peekHeader(br *bufio.Reader) ([]byte, error) {
	for {
		b, _ := br.Peek(br.Buffered())
		if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
			return b[:i+4], nil
		}
		if len(b) >= br.Size() {
			return nil, errors.New("request header too large")
		}
		if _, err := br.Peek(len(b) + 1); err != nil {
			return nil, err
		}
	}
}

// drain returns what br holds buffered, without reading more.
func drain(br *bufio.Reader) []byte {
	b, _ := br.Peek(br.Buffered())
	return append([]byte(nil), b...)
}

// looksLikeHTTP: the first bytes are an HTTP method and a space. It
// waits for more bytes only while what came could still be one, so a
// four-byte "ping" is not held.
func looksLikeHTTP(br *bufio.Reader) bool {
	methods := []string{"GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "TRACE ", "CONNECT "}
	for {
		b, _ := br.Peek(br.Buffered())
		prefix := false
		for _, m := range methods {
			if len(b) >= len(m) && string(b[:len(m)]) == m {
				return true
			}
			if len(b) < len(m) && m[:len(b)] == string(b) {
				prefix = true
			}
		}
		if !prefix {
			return false
		}
		if _, err := br.Peek(len(b) + 1); err != nil {
			return false
		}
	}
}

func loopbackName(h string) bool {
	switch strings.Trim(h, "[]") {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}

// sameHost compares a name the client wrote with the canonical host the
// tunnel was allowed for.
func sameHost(name, host string) bool {
	c, err := workspace.CanonicalHost(name)
	if err != nil {
		return false
	}
	// A mirrored localhost port is reached from inside by any of the
	// loopback spellings; none of them fronts another site.
	if loopbackName(c) && loopbackName(host) {
		return true
	}
	return c == host || "["+c+"]" == host || c == strings.Trim(host, "[]")
}

// relayChecked relays a tunnel whose upstream is connected: the server's
// bytes flow at once (some protocols speak first), the client's only once
// its first message passed tunnelFirst. br holds what the client sent
// after its CONNECT.
func (s *Session) relayChecked(c net.Conn, br *bufio.Reader, up net.Conn, d Decision) {
	var r io.Reader = c
	if br != nil {
		r = io.MultiReader(bytes.NewReader(drain(br)), c)
	}
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(c, up)
		closeWrite(c)
		close(done)
	}()
	first, ok := s.tunnelFirst(c, r, d)
	if ok && len(first) > 0 {
		_, err := up.Write(first)
		ok = err == nil
	}
	if !ok {
		up.Close()
		c.Close()
		<-done
		return
	}
	_, _ = io.Copy(up, c)
	closeWrite(up)
	<-done
}

// hijackTunnel serves a CONNECT that came after other requests on a
// kept-alive connection, which goproxy reads: the same checked relay.
func (s *Session) hijackTunnel(t target, d Decision) func(*http.Request, net.Conn, *goproxy.ProxyCtx) {
	return func(_ *http.Request, client net.Conn, _ *goproxy.ProxyCtx) {
		defer client.Close()
		up, err := s.cfg.dial(s.ctx, t.addr)
		if err != nil {
			writeHTTPError(client, 502, "cordon: "+err.Error())
			return
		}
		if !s.track(up) {
			up.Close()
			return
		}
		defer s.untrack(up)
		if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
			return
		}
		s.relayChecked(client, nil, up, d)
	}
}
