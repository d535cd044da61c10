package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/workspace"
)

// TestUnreachableIsNoRefusal: an allowed host that does not resolve, or
// resolves but does not answer, gets 502 with X-Cordon-Decision:
// unreachable and the reason, on every path (our CONNECT, goproxy's plain
// HTTP, SOCKS); the audit log has the line and the decision is no deny.
func TestUnreachableIsNoRefusal(t *testing.T) {
	pol := policy(t, "[network]\nallow = [\"gone.test\", \"dead.test\", \"ok.test\"]\n")
	dir := t.TempDir()
	audit, err := OpenAudit(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	fn := newFakeNet()
	// dead.test resolves to an address whose port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := ln.Addr().String()
	ln.Close()
	fn.serve("dead.test", "203.0.113.77", 80, closedAddr)
	fn.serve("dead.test", "203.0.113.77", 443, closedAddr)
	var hits atomic.Int32
	srv := upstream(t, &hits)
	fn.serve("ok.test", "203.0.113.78", 80, srv.Listener.Addr().String())
	s, err := NewSession(context.Background(), Config{
		RunID: "r1", Command: "curl", Policy: func() *workspace.Policy { return pol }, Audit: audit,
		Resolver: fn, Dialer: fn, Dir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := &harness{t: t, s: s, net: fn}

	for _, tc := range []struct{ raw, want string }{
		{"CONNECT gone.test:443 HTTP/1.1\r\nHost: gone.test:443\r\n\r\n", "no such host"},
		{"GET http://gone.test/ HTTP/1.1\r\nHost: gone.test\r\n\r\n", "no such host"},
		{"CONNECT dead.test:443 HTTP/1.1\r\nHost: dead.test:443\r\n\r\n", "refused"},
		{"GET http://dead.test/ HTTP/1.1\r\nHost: dead.test\r\n\r\n", "refused"},
	} {
		c := h.dial()
		resp, body := roundTrip(t, c, bufio.NewReader(c), tc.raw)
		c.Close()
		if resp.StatusCode != 502 || resp.Header.Get("X-Cordon-Decision") != "unreachable" ||
			!strings.Contains(body, "unreachable") || !strings.Contains(body, tc.want) || !strings.Contains(body, ".sandbox.toml:2") {
			t.Errorf("%q: %d %v %q, want 502 unreachable naming the rule and %q", tc.raw, resp.StatusCode, resp.Header, body, tc.want)
		}
	}
	// Positive control: the same session reaches a host that answers.
	c := h.dial()
	resp, body := roundTrip(t, c, bufio.NewReader(c), "GET http://ok.test/ HTTP/1.1\r\nHost: ok.test\r\n\r\n")
	c.Close()
	if resp.StatusCode != 200 || hits.Load() != 1 {
		t.Fatalf("control: %d %q", resp.StatusCode, body)
	}
	if code := socks(t, h.dial(), 1, "gone.test", 443); code != socksHostUnreachable {
		t.Errorf("SOCKS to an unresolvable allowed host: reply %d, want %d", code, socksHostUnreachable)
	}
	if code := socks(t, h.dial(), 1, "dead.test", 443); code != socksHostUnreachable {
		t.Errorf("SOCKS to an allowed host that does not answer: reply %d, want %d", code, socksHostUnreachable)
	}

	unreachable := 0
	for _, d := range s.Decisions() {
		if d.Action == ActionDeny {
			t.Errorf("a refusal was recorded for %s (%s): nothing was refused", d.Target(), d.Reason)
		}
		if d.Action == ActionUnreachable {
			unreachable++
			if d.Error == "" {
				t.Errorf("unreachable %s without a reason", d.Target())
			}
		}
	}
	if unreachable != 6 {
		t.Errorf("%d unreachable decisions, want 6: %+v", unreachable, s.Decisions())
	}
	raw, err := os.ReadFile(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if m["decision"] == "unreachable" && m["error"] != "" {
			n++
		}
	}
	if n != 6 {
		t.Errorf("audit has %d unreachable lines, want 6:\n%s", n, raw)
	}
}

type timedApprover struct {
	asked  atomic.Int32
	answer Answer
	at     time.Time
}

func (a *timedApprover) Approve(ctx context.Context, q Question) (Answer, error) {
	panic("ApproveAt must be preferred")
}

func (a *timedApprover) ApproveAt(ctx context.Context, q Question) (Answer, time.Time, error) {
	a.asked.Add(1)
	return a.answer, a.at, nil
}

// TestAnswerHoldsForTheRun: one question per host:port and run whatever
// the answer, each connection after it decided the same way; a refusal
// by the user says so, with the time of the answer; deny-always counts as
// a deny here (the policy edit is the approver's).
func TestAnswerHoldsForTheRun(t *testing.T) {
	var hits atomic.Int32
	srv := upstream(t, &hits)
	at := time.Date(2026, 12, 1, 9, 41, 0, 0, time.Local)
	for _, tc := range []struct {
		answer Answer
		code   int
	}{{AllowOnce, 200}, {Deny, 403}, {DenyAlways, 403}} {
		t.Run(string(tc.answer), func(t *testing.T) {
			pol := policy(t, "[network]\nunknown = \"ask\"\n")
			ap := &timedApprover{answer: tc.answer, at: at}
			h := newHarness(t, pol, ap, nil)
			h.net.serve("new.test", "203.0.113.90", 80, srv.Listener.Addr().String())
			c := h.client(nil)
			var body string
			for i := 0; i < 3; i++ {
				resp, err := c.Get("http://new.test/")
				if err != nil {
					t.Fatal(err)
				}
				b := make([]byte, 512)
				n, _ := resp.Body.Read(b)
				body = string(b[:n])
				resp.Body.Close()
				if resp.StatusCode != tc.code {
					t.Fatalf("connection %d: %d, want %d", i, resp.StatusCode, tc.code)
				}
			}
			if ap.asked.Load() != 1 {
				t.Fatalf("asked %d times in one run, want once", ap.asked.Load())
			}
			if tc.code == 403 {
				if !strings.Contains(body, "denied by you at 09:41") {
					t.Errorf("refusal body %q does not say who denied it and when", body)
				}
				for _, d := range h.s.Decisions() {
					if d.Cause() != "denied by you at 09:41" || d.Answer != Deny {
						t.Errorf("decision %+v: cause %q", d, d.Cause())
					}
				}
			}
		})
	}
}

// With nobody to ask, an unknown host is the default's refusal, not "denied
// by you".
func TestNobodyToAsk(t *testing.T) {
	pol := policy(t, "[network]\nunknown = \"ask\"\n")
	h := newHarness(t, pol, ApproverFunc(func(ctx context.Context, q Question) (Answer, error) { return Deny, ErrNotAsked }), nil)
	h.net.serve("new.test", "203.0.113.91", 80, "127.0.0.1:9")
	c := h.dial()
	resp, body := roundTrip(t, c, bufio.NewReader(c), "GET http://new.test/ HTTP/1.1\r\nHost: new.test\r\n\r\n")
	c.Close()
	d := h.s.Decisions()
	if resp.StatusCode != 403 || len(d) != 1 || d[0].Reason != "default-deny" || d[0].Asked || strings.Contains(body, "by you") {
		t.Fatalf("%d %q %+v", resp.StatusCode, body, d)
	}
}

// allow-connection (cordon mcp's "allow once") is asked again on the next
// connection.
func TestAllowConnectionAsksAgain(t *testing.T) {
	var hits atomic.Int32
	srv := upstream(t, &hits)
	pol := policy(t, "[network]\nunknown = \"ask\"\n")
	var asked atomic.Int32
	h := newHarness(t, pol, ApproverFunc(func(ctx context.Context, q Question) (Answer, error) {
		asked.Add(1)
		return AllowConnection, nil
	}), nil)
	h.net.serve("new.test", "203.0.113.92", 80, srv.Listener.Addr().String())
	c := h.client(nil)
	for i := 0; i < 2; i++ {
		resp, err := c.Get("http://new.test/")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%v %v", resp, err)
		}
		resp.Body.Close()
	}
	if asked.Load() != 2 {
		t.Fatalf("asked %d times, want once per connection", asked.Load())
	}
}
