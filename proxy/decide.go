package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cordon-dev/cordon/workspace"
)

// Answer to an approval question.
type Answer string

const (
	AllowOnce   Answer = "allow-once"   // this run may connect to the host:port
	AllowAlways Answer = "allow-always" // and the policy gains an allow rule
	Deny        Answer = "deny"         // this run may not
	DenyAlways  Answer = "deny-always"  // and the policy gains a deny rule
	// AllowConnection allows this one connection only: the next one asks
	// again (an approver whose user chose so, as cordon mcp offers).
	AllowConnection Answer = "allow-connection"
)

// Actions a Decision records.
const (
	ActionAllow = "allow"
	ActionDeny  = "deny"
	// ActionUnreachable: the policy allowed the destination but it did not
	// resolve or answer. Not a violation: the sandbox refused nothing.
	ActionUnreachable = "unreachable"
)

// Question asks whether a run may reach a host no rule covers.
type Question struct {
	RunID, Command, Host string
	Port                 int
}

// Approver decides unknown hosts. ctx carries the approval timeout; an
// error or a timeout means deny.
type Approver interface {
	Approve(ctx context.Context, q Question) (Answer, error)
}

// A TimedApprover also says when the answer was given, which is earlier
// than now for an answer it remembered; a refusal then reports "denied by
// you at HH:MM".
type TimedApprover interface {
	ApproveAt(ctx context.Context, q Question) (Answer, time.Time, error)
}

// ErrNotAsked is what an Approver returns when there is nobody to ask (no
// terminal): the unknown host is then denied by the default, as if no
// approver had been set, and reported so, not as the user's answer.
var ErrNotAsked = errors.New("nobody to ask")

// ApproverFunc adapts a function to Approver.
type ApproverFunc func(ctx context.Context, q Question) (Answer, error)

func (f ApproverFunc) Approve(ctx context.Context, q Question) (Answer, error) { return f(ctx, q) }

// Decision is one network decision, kept per run and in the audit log.
type Decision struct {
	Time       time.Time        `json:"time"`
	RunID      string           `json:"run"`
	Command    string           `json:"command"`
	Host       string           `json:"host"`
	Port       int              `json:"port"`
	Addr       string           `json:"address,omitempty"` // the address dialled (or that would have been)
	Action     string           `json:"decision"`          // ActionAllow, ActionDeny or ActionUnreachable
	Asked      bool             `json:"asked,omitempty"`
	Answer     Answer           `json:"answer,omitempty"`
	AnsweredAt time.Time        `json:"answeredAt,omitzero"` // when the user gave Answer
	Reason     string           `json:"reason"`              // rule, default-deny, approval, timeout, approval-error, private-address, invalid-host, unresolved, unanswered (dial)
	Error      string           `json:"error,omitempty"`     // why an unreachable destination was
	Rule       workspace.Source `json:"-"`
	RuleText   string           `json:"rule"`
	PolicyHash string           `json:"policyHash,omitempty"`
	// Git is what a git-proxy decision was about: "push REMOTE REF",
	// "fetch REMOTE"; "" for a plain connection.
	Git string `json:"git,omitempty"`
	// SNI is the server name a refused tunnel's first message asked for.
	SNI string `json:"sni,omitempty"`
}

// Target is HOST:PORT as reports show it; a canonical IPv6 host already
// carries its brackets ("[::1]:8080").
func (d Decision) Target() string {
	if strings.HasPrefix(d.Host, "[") {
		return d.Host + ":" + strconv.Itoa(d.Port)
	}
	return net.JoinHostPort(d.Host, strconv.Itoa(d.Port))
}

// Cause is what decided a refusal, as people read it: the rule as
// FILE:LINE, "default", or "denied by you at HH:MM" for an answer.
func (d Decision) Cause() string {
	switch d.Reason {
	case "approval":
		if !d.AnsweredAt.IsZero() {
			return "denied by you at " + d.AnsweredAt.Local().Format("15:04")
		}
		return "denied by you"
	case "timeout", "approval-error":
		return "not answered"
	}
	return d.Rule.String()
}

// Resolver looks host names up (net.DefaultResolver by default).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// decider holds a session's approvals.
type decider struct {
	cfg *Config

	mu       sync.Mutex
	answered map[string]answered // host:port asked already: one question per answer, not per connection
	inflight map[string]*askCall // one question per host:port at a time
}

type answered struct {
	answer Answer
	at     time.Time
}

type askCall struct {
	done   chan struct{}
	answer Answer
	at     time.Time
	err    error
}

// target is an allowed destination: exactly the address to dial.
type target struct {
	addr netip.AddrPort
}

// decide returns the address to connect to for host:port, or a denial.
// The name alone decides a denial, before any lookup.
func (d *decider) decide(ctx context.Context, rawHost string, port int) (target, Decision) {
	pol := d.cfg.Policy()
	dec := Decision{Time: time.Now(), RunID: d.cfg.RunID, Command: d.cfg.Command, Host: rawHost, Port: port}
	if pol != nil {
		dec.PolicyHash = pol.Hash
	}
	deny := func(reason string) (target, Decision) {
		dec.Action, dec.Reason = ActionDeny, reason
		dec.RuleText = dec.Rule.String()
		return target{}, dec
	}
	host, err := workspace.CanonicalHost(rawHost)
	if err != nil || port < 1 || port > 65535 || pol == nil {
		dec.Host = strings.ToValidUTF8(strings.Map(printable, rawHost), "?")
		return deny("invalid-host")
	}
	dec.Host = host

	verdict, rule, _ := Match(pol, host, port)
	byRule := verdict == Allowed
	dec.Rule = rule.Source
	switch verdict {
	case Denied:
		return deny("rule")
	case Unknown:
		key := net.JoinHostPort(host, strconv.Itoa(port))
		d.mu.Lock()
		prior, known := d.answered[key]
		d.mu.Unlock()
		if known {
			// Asked already in this run: the answer holds for every
			// connection (npm opens dozens to one registry).
			dec.Answer, dec.AnsweredAt, dec.Reason = prior.answer, prior.at, "approval"
			if !allows(prior.answer) {
				return deny("approval")
			}
			break
		}
		if pol.Network.Unknown != workspace.UnknownAsk || d.cfg.Approver == nil {
			dec.Rule = pol.Network.UnknownSource
			return deny("default-deny")
		}
		dec.Asked = true
		answer, at, err := d.ask(ctx, Question{RunID: d.cfg.RunID, Command: d.cfg.Command, Host: host, Port: port})
		dec.Answer, dec.AnsweredAt = answer, at
		switch {
		case errors.Is(err, ErrNotAsked):
			dec.Asked, dec.Answer, dec.AnsweredAt = false, "", time.Time{}
			dec.Rule = pol.Network.UnknownSource
			return deny("default-deny")
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
			dec.Answer = Deny
			return deny("timeout")
		case err != nil:
			dec.Answer = Deny
			return deny("approval-error")
		}
		if answer != AllowConnection {
			d.mu.Lock()
			d.answered[key] = answered{answer: answer, at: at}
			d.mu.Unlock()
		}
		if !allows(answer) {
			return deny("approval")
		}
		dec.Reason = "approval"
	default:
		dec.Reason = "rule"
	}

	addrs, err := d.resolve(ctx, host)
	if err != nil || len(addrs) == 0 {
		// Allowed, but there is nothing to reach: the sandbox refused
		// nothing, so this is no violation.
		dec.Action, dec.Reason, dec.RuleText = ActionUnreachable, "unresolved", dec.Rule.String()
		dec.Error = "does not resolve"
		if err != nil {
			dec.Error = err.Error()
		}
		return target{}, dec
	}
	for _, a := range addrs {
		class := classify(a)
		opened := class == public
		if !opened && byRule {
			// Any allow rule for this host:port may be the one naming the
			// address: "db.corp:5432" beside "*.corp".
			if r, ok := openingRule(pol, host, port, a, class); ok {
				opened, dec.Rule = true, r.Source
			}
		}
		if opened {
			dec.Action = ActionAllow
			dec.Addr = netip.AddrPortFrom(a, uint16(port)).String()
			dec.RuleText = dec.Rule.String()
			return target{addr: netip.AddrPortFrom(a, uint16(port))}, dec
		}
	}
	dec.Addr = netip.AddrPortFrom(addrs[0], uint16(port)).String()
	return deny("private-address")
}

func allows(a Answer) bool { return a == AllowOnce || a == AllowAlways || a == AllowConnection }

func printable(r rune) rune {
	if r < 0x20 || r == 0x7f {
		return '?'
	}
	return r
}

// resolve looks host up once on the host side; literals and localhost
// need no lookup. IPv4 first: the sandbox-side clients mostly expect it.
func (d *decider) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	if host == "localhost" {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	addrs, err := d.cfg.resolver().LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	var v4, v6 []netip.Addr
	for _, a := range addrs {
		if a = a.Unmap(); a.Is4() {
			v4 = append(v4, a)
		} else {
			v6 = append(v6, a)
		}
	}
	return append(v4, v6...), nil
}

// ask puts one question per host:port to the approver; concurrent
// requests for the same destination share it.
func (d *decider) ask(ctx context.Context, q Question) (Answer, time.Time, error) {
	key := net.JoinHostPort(q.Host, strconv.Itoa(q.Port))
	d.mu.Lock()
	if c, ok := d.inflight[key]; ok {
		d.mu.Unlock()
		select {
		case <-c.done:
			return c.answer, c.at, c.err
		case <-ctx.Done():
			return Deny, time.Time{}, ctx.Err()
		}
	}
	c := &askCall{done: make(chan struct{})}
	d.inflight[key] = c
	d.mu.Unlock()

	timeout := d.cfg.ApprovalTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	var (
		answer Answer
		at     time.Time
		err    error
	)
	if ta, ok := d.cfg.Approver.(TimedApprover); ok {
		answer, at, err = ta.ApproveAt(actx, q)
	} else {
		answer, err = d.cfg.Approver.Approve(actx, q)
	}
	if at.IsZero() {
		at = time.Now()
	}
	if err == nil && actx.Err() != nil {
		err = actx.Err()
	}
	cancel()
	if err != nil {
		answer = Deny
	}
	switch answer {
	case AllowOnce, AllowAlways, Deny, AllowConnection:
	case DenyAlways:
		answer = Deny // the policy edit is the approver's; here it is a deny
	default:
		answer, err = Deny, fmt.Errorf("approver answered %q", answer)
	}
	c.answer, c.at, c.err = answer, at, err
	d.mu.Lock()
	delete(d.inflight, key)
	d.mu.Unlock()
	close(c.done)
	return answer, at, err
}
