package proxy

import (
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
	"time"

	"github.com/cordon-dev/cordon/proxy/git"
	"github.com/cordon-dev/cordon/workspace"
)

// gitFront serves the git endpoint (git.Host) on the connections whose
// first request names it: the sandbox's git, pointed there by
// url.<endpoint>.insteadOf. Upstream connections go only to the listed
// remotes, at addresses checked like every other destination.
type gitFront struct {
	*connListener
	s       *Session
	handler *git.Handler
	tr      *http.Transport
	srv     *http.Server
}

func isGitRequest(req *http.Request) bool {
	return req.Method != http.MethodConnect && strings.EqualFold(req.URL.Host, git.Host)
}

func newGitFront(s *Session) *gitFront {
	f := &gitFront{connListener: newConnListener("cordon-git"), s: s}
	f.tr = &http.Transport{
		Proxy:                  nil,
		DialContext:            f.dial,
		TLSClientConfig:        &tls.Config{RootCAs: s.cfg.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    15 * time.Second,
		ResponseHeaderTimeout:  10 * time.Minute,
		MaxResponseHeaderBytes: 1 << 20,
		DisableCompression:     true,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        30 * time.Second,
	}
	h := &git.Handler{
		Policy:      s.cfg.Policy,
		Credentials: git.HostCredentials{},
		Transport:   f.tr,
		TempDir:     s.dir,
		Logger:      s.logger,
		Report:      f.report,
	}
	f.handler = h
	f.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() { _ = f.srv.Serve(f.connListener) }()
	return f
}

// report turns a git event into the run's decision (and a violation when
// refused).
func (f *gitFront) report(e git.Event) {
	d := Decision{
		Time: time.Now(), RunID: f.s.cfg.RunID, Command: f.s.cfg.Command,
		Host: e.Remote.Host, Action: "deny", Reason: e.Reason, Rule: e.Rule, RuleText: e.Rule.String(),
		Git: e.Op + " " + e.Target(),
	}
	if e.Remote.Host != "" {
		_, d.Port = e.Remote.Endpoint()
	}
	if e.Allowed {
		d.Action = "allow"
	}
	if pol := f.s.cfg.Policy(); pol != nil {
		d.PolicyHash = pol.Hash
	}
	f.s.record(d)
}

// dial connects to a listed remote's host:port at an address the policy
// lets it reach: network deny rules win; a loopback, private or link-local
// address needs the remote to name it as an allow rule would.
func (f *gitFront) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, _ := strconv.Atoi(portStr)
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	pol := f.s.cfg.Policy()
	if pol == nil {
		return nil, errors.New("cordon: no policy")
	}
	var remote *workspace.GitRemote
	for i, r := range pol.Git.Remotes {
		if h, p := r.Endpoint(); h == host && p == port {
			remote = &pol.Git.Remotes[i]
			break
		}
	}
	dec := Decision{Time: time.Now(), RunID: f.s.cfg.RunID, Command: f.s.cfg.Command, Host: host, Port: port, PolicyHash: pol.Hash}
	deny := func(reason string) (net.Conn, error) {
		dec.Action, dec.Reason, dec.RuleText = "deny", reason, dec.Rule.String()
		f.s.record(dec)
		return nil, fmt.Errorf("cordon: blocked net %s (%s)", dec.Target(), dec.RuleText)
	}
	if remote == nil {
		return deny("git-unlisted")
	}
	dec.Rule = remote.Source
	if v, r, _ := Match(pol, host, port); v == Denied {
		dec.Rule = r.Source
		return deny("rule")
	}
	addrs, err := f.s.dec.resolve(ctx, host)
	if err != nil || len(addrs) == 0 {
		return deny("unresolved")
	}
	named := workspace.HostRule{Host: remote.Host, Port: port}
	for _, a := range addrs {
		class := classify(a)
		if class != public && !explicitlyNamed(named, host, a, class) {
			continue
		}
		ap := netip.AddrPortFrom(a, uint16(port))
		dec.Action, dec.Reason, dec.Addr, dec.RuleText = "allow", "git-remote", ap.String(), dec.Rule.String()
		f.s.record(dec)
		return f.s.dialTracked(ctx, ap)
	}
	dec.Addr = netip.AddrPortFrom(addrs[0], uint16(port)).String()
	return deny("private-address")
}

func (f *gitFront) close() {
	f.Close()
	_ = f.srv.Close()
	f.tr.CloseIdleConnections()
}
