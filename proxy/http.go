package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/elazarl/goproxy"
)

// maxHeaderBytes bounds the first request we parse ourselves.
const maxHeaderBytes = 64 << 10

func readRequest(br *bufio.Reader) (*http.Request, error) {
	return http.ReadRequest(br)
}

// Values of the X-Cordon-Decision header on the proxy's own answers.
const (
	headerDenied      = "denied"
	headerUnreachable = "unreachable"
)

// refusal is the status, header value and one-line body of the answer to a
// request the proxy did not pass on. The body says why in words, unlike
// the report's "cordon: blocked" line, so a client that prints it (curl on
// plain HTTP) does not show the same line twice.
func refusal(d Decision) (int, string, string) {
	if d.Action == ActionUnreachable {
		return http.StatusBadGateway, headerUnreachable,
			fmt.Sprintf("cordon: %s is allowed (%s) but unreachable: %s", d.Target(), d.RuleText, d.Error)
	}
	return http.StatusForbidden, headerDenied, fmt.Sprintf("cordon: the sandbox refused %s: %s", d.Target(), refusalCause(d))
}

func refusalCause(d Decision) string {
	switch d.Reason {
	case "rule":
		return "denied by " + d.RuleText
	case "default-deny":
		return "no rule allows it and unknown hosts are denied (" + d.RuleText + ")"
	case "private-address":
		return "it is a private or loopback address (" + d.Addr + ") that no rule names"
	case "invalid-host":
		return "not a valid host name"
	}
	return d.Cause()
}

func writeHTTPError(w io.Writer, code int, body string) {
	writeHTTPAnswer(w, code, headerDenied, body)
}

func writeHTTPAnswer(w io.Writer, code int, decision, body string) {
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nX-Cordon-Decision: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s\n",
		code, http.StatusText(code), decision, len(body)+1, body)
}

func writeRefusal(w io.Writer, d Decision) {
	code, header, body := refusal(d)
	writeHTTPAnswer(w, code, header, body)
}

// hostPort splits a CONNECT or URL authority; defPort when none is given.
func hostPort(authority string, defPort int) (string, int, error) {
	host, portStr, err := net.SplitHostPort(authority)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) && strings.Contains(ae.Err, "missing port") {
			return strings.Trim(authority, "[]"), defPort, nil
		}
		return "", 0, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", portStr)
	}
	return host, port, nil
}

// serveCONNECT handles a first-request CONNECT without goproxy, so the
// tunnel runs on the raw sockets (splice) with nothing in between.
func (s *Session) serveCONNECT(c net.Conn, req *http.Request, br *bufio.Reader) {
	host, port, err := hostPort(req.Host, 443)
	if err != nil {
		writeHTTPError(c, 400, "cordon: bad CONNECT target")
		return
	}
	t, d := s.decide(host, port)
	if d.Action != ActionAllow {
		writeRefusal(c, d)
		return
	}
	up, err := s.cfg.dial(s.ctx, t.addr)
	if err != nil {
		writeRefusal(c, s.unreachable(d, err))
		return
	}
	if !s.track(up) {
		up.Close()
		return
	}
	defer s.untrack(up)
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	// Bytes the client sent after its CONNECT (a TLS ClientHello, say)
	// are checked with what follows before any goes upstream.
	s.relayChecked(c, br, up, d)
}

type pinKey struct{}

// pinned is what a plain-HTTP request carries to the dial: the checked
// address, and the decision (for the report if it cannot be reached).
type pinned struct {
	addr netip.AddrPort
	dec  Decision
}

// httpFront serves plain-HTTP proxy requests (absolute URIs) through
// goproxy, and later CONNECTs on a kept-alive connection.
type httpFront struct {
	*connListener
	s   *Session
	tr  *http.Transport
	srv *http.Server
}

func newHTTPFront(s *Session) *httpFront {
	px := goproxy.NewProxyHttpServer()
	px.Logger = log.New(io.Discard, "", 0)
	px.Verbose = false
	// Never chain to a proxy from cordon's own environment, and verify
	// upstream TLS where goproxy makes TLS itself.
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			p, ok := ctx.Value(pinKey{}).(pinned)
			if !ok {
				return nil, errors.New("cordon: no decision for this connection")
			}
			return s.dialTracked(ctx, p.addr)
		},
		TLSClientConfig:       &tls.Config{RootCAs: s.cfg.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 5 * time.Minute,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
	}
	px.Tr = tr
	px.ConnectDial = func(network, addr string) (net.Conn, error) {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return nil, errors.New("cordon: no decision for this connection")
		}
		return s.dialTracked(s.ctx, ap)
	}
	px.NonproxyHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Cordon-Decision", "denied")
		http.Error(w, "cordon: not a proxy request", http.StatusBadRequest)
	})
	px.OnRequest().HandleConnectFunc(func(host string, ctx *goproxy.ProxyCtx) (*goproxy.ConnectAction, string) {
		h, port, err := hostPort(host, 443)
		if err != nil {
			ctx.Resp = denyResponse(ctx.Req, 400, "cordon: bad CONNECT target")
			return &goproxy.ConnectAction{Action: goproxy.ConnectReject}, host
		}
		t, d := s.decide(h, port)
		if d.Action != ActionAllow {
			ctx.Resp = refusalResponse(ctx.Req, d)
			return &goproxy.ConnectAction{Action: goproxy.ConnectReject}, host
		}
		return &goproxy.ConnectAction{Action: goproxy.ConnectHijack, Hijack: s.hijackTunnel(t, d)}, t.addr.String()
	})
	px.OnRequest().DoFunc(func(r *http.Request, ctx *goproxy.ProxyCtx) (*http.Request, *http.Response) {
		def := 80
		if r.URL.Scheme == "https" {
			def = 443
		}
		host, port, err := hostPort(r.URL.Host, def)
		if err != nil {
			return r, denyResponse(r, 400, "cordon: bad request target")
		}
		t, d := s.decide(host, port)
		if d.Action != ActionAllow {
			return r, refusalResponse(r, d)
		}
		p := pinned{addr: t.addr, dec: d}
		ctx.UserData = p
		return r.WithContext(context.WithValue(r.Context(), pinKey{}, p)), nil
	})
	// An allowed upstream that does not answer: goproxy would say 500 with
	// the bare error; say 502 and why, and keep the audit line.
	px.OnResponse().DoFunc(func(resp *http.Response, ctx *goproxy.ProxyCtx) *http.Response {
		if resp != nil || ctx.Error == nil || ctx.Req == nil {
			return resp
		}
		p, ok := ctx.UserData.(pinned)
		if !ok {
			return resp
		}
		return refusalResponse(ctx.Req, s.unreachable(p.dec, ctx.Error))
	})

	f := &httpFront{connListener: newConnListener("cordon-proxy"), s: s, tr: tr}
	f.srv = &http.Server{
		Handler:           px,
		ReadHeaderTimeout: 30 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() { _ = f.srv.Serve(f.connListener) }()
	return f
}

func denyResponse(r *http.Request, code int, body string) *http.Response {
	return answerResponse(r, code, headerDenied, body)
}

func refusalResponse(r *http.Request, d Decision) *http.Response {
	code, header, body := refusal(d)
	return answerResponse(r, code, header, body)
}

func answerResponse(r *http.Request, code int, decision, body string) *http.Response {
	resp := goproxy.NewResponse(r, goproxy.ContentTypeText, code, body+"\n")
	resp.Header.Set("X-Cordon-Decision", decision)
	return resp
}

func (f *httpFront) close() {
	f.Close()
	_ = f.srv.Close()
	f.tr.CloseIdleConnections()
}

// dialTracked dials for goproxy: the connection is closed by Session.Close
// like every other, however goproxy holds it.
func (s *Session) dialTracked(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	c, err := s.cfg.dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	if !s.track(c) {
		c.Close()
		return nil, net.ErrClosed
	}
	return &trackedConn{Conn: c, s: s}, nil
}

type trackedConn struct {
	net.Conn
	s    *Session
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() { c.s.untrack(c.Conn) })
	return nil
}
