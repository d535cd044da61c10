package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"go.lsp.dev/protocol"
	"go.lsp.dev/uri"

	"github.com/cordon-dev/cordon/proxy"
	"github.com/cordon-dev/cordon/workspace"
)

const answerDeny = proxy.Deny

type approveParams struct {
	ID      string `json:"id"`
	RunID   string `json:"runId,omitempty"`
	Kind    string `json:"kind"` // network, filesystem, policy
	Target  string `json:"target"`
	Command string `json:"command,omitempty"`
	Message string `json:"message"`
}

// Titles of the window/showMessageRequest fallback.
const (
	titleAllowOnce   = "Allow once"
	titleAllowAlways = "Always allow"
	titleDeny        = "Deny"
	titleDenyAlways  = "Always deny"
)

// ask puts a question to the user: sandbox/approve when the client opted
// in, else window/showMessageRequest. Anything but a clear yes in time,
// including an error or a dismissed prompt, is a deny.
func (s *server) ask(ctx context.Context, p approveParams) proxy.Answer {
	ans, _ := s.askUser(ctx, p)
	return ans
}

// askUser is ask that also says whether the user answered at all (a
// timeout, an error or a dismissed prompt is a deny but no answer).
func (s *server) askUser(ctx context.Context, p approveParams) (proxy.Answer, bool) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.ApprovalTimeout)
	defer cancel()
	p.ID = "q" + strconv.FormatInt(s.runSeq.Add(1), 10)
	s.mu.Lock()
	optIn := s.client.approvals
	s.mu.Unlock()
	if optIn {
		var res struct {
			Decision proxy.Answer `json:"decision"`
		}
		if err := s.conn.call(ctx, "sandbox/approve", p, &res); err != nil {
			s.log.Info("approval not given", "target", p.Target, "err", err)
			return proxy.Deny, false
		}
		switch res.Decision {
		case proxy.AllowOnce, proxy.AllowAlways, proxy.Deny, proxy.DenyAlways:
			return res.Decision, true
		}
		return proxy.Deny, false
	}
	var res *protocol.MessageActionItem
	err := s.conn.call(ctx, "window/showMessageRequest", protocol.ShowMessageRequestParams{
		Type:    protocol.MessageTypeWarning,
		Message: p.Message,
		Actions: []protocol.MessageActionItem{{Title: titleAllowOnce}, {Title: titleAllowAlways}, {Title: titleDeny}, {Title: titleDenyAlways}},
	}, &res)
	if err != nil || res == nil {
		return proxy.Deny, false
	}
	switch res.Title {
	case titleAllowOnce:
		return proxy.AllowOnce, true
	case titleAllowAlways:
		return proxy.AllowAlways, true
	case titleDeny:
		return proxy.Deny, true
	case titleDenyAlways:
		return proxy.DenyAlways, true
	}
	return proxy.Deny, false
}

// refusal is a user's deny, kept for the rest of the server session so the
// same host is not asked about again in every run.
type refusal struct {
	at time.Time
}

// approver answers the proxy's questions about unknown hosts for one run.
func (s *server) approver(f *folder, runID string) proxy.Approver {
	return &runApprover{s: s, f: f, runID: runID}
}

type runApprover struct {
	s     *server
	f     *folder
	runID string
}

func (a *runApprover) Approve(ctx context.Context, q proxy.Question) (proxy.Answer, error) {
	ans, _, err := a.ApproveAt(ctx, q)
	return ans, err
}

// ApproveAt asks the user, unless they denied this destination earlier in
// the session. Allows are not remembered here: "allow once" holds for its
// run (the proxy keeps it), "always allow" lives in the policy file, where
// removing the rule takes it back.
func (a *runApprover) ApproveAt(ctx context.Context, q proxy.Question) (proxy.Answer, time.Time, error) {
	s, f := a.s, a.f
	target := hostRule(q.Host, q.Port)
	key := f.root + "\x00" + target
	s.mu.Lock()
	r, denied := s.refused[key]
	s.mu.Unlock()
	if denied {
		return proxy.Deny, r.at, nil
	}
	ans, answered := s.askUser(ctx, approveParams{
		RunID:   a.runID,
		Kind:    "network",
		Target:  target,
		Command: q.Command,
		Message: fmt.Sprintf("%s wants to connect to %s, which the policy does not mention.", q.Command, target),
	})
	at := time.Now()
	switch ans {
	case proxy.AllowAlways:
		if err := s.addRule(ctx, f, "network", "allow", target); err != nil {
			s.log.Warn("adding the host to the policy", "host", target, "err", err)
		}
	case proxy.DenyAlways:
		if err := s.addRule(ctx, f, "network", "deny", target); err != nil {
			s.log.Warn("adding the host to the policy's deny list", "host", target, "err", err)
		}
		fallthrough
	case proxy.Deny:
		if answered { // a timeout or a dismissed prompt is no answer: ask again next time
			s.mu.Lock()
			s.refused[key] = refusal{at: at}
			s.mu.Unlock()
		}
	}
	return ans, at, nil
}

// hostRule writes host[:port] as a policy rule; host may be a canonical
// bracketed IPv6 address.
func hostRule(host string, port int) string {
	if port == 0 {
		return host
	}
	return net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), strconv.Itoa(port))
}

// addRule adds value to [table].key of the folder's policy file with a
// minimal edit the client applies (creating the file when missing): "Always
// allow" and "Always deny". The content we produce stays trusted when the
// content before it was.
func (s *server) addRule(ctx context.Context, f *folder, table, key, value string) error {
	edit, newContent, err := policyEdit(f.file, table, key, value)
	if err != nil {
		return err
	}
	if p := f.Policy(); p != nil && p.Trusted {
		sum := sha256.Sum256([]byte(newContent))
		if err := (workspace.TrustStore{Dir: f.dirs.StateDir}).Trust(f.file, hex.EncodeToString(sum[:])); err != nil {
			return fmt.Errorf("trusting the edited policy: %w", err)
		}
	}
	var res struct {
		Applied       bool   `json:"applied"`
		FailureReason string `json:"failureReason"`
	}
	if err := s.conn.call(context.WithoutCancel(ctx), "workspace/applyEdit", map[string]any{
		"label": "cordon: " + key + " " + value,
		"edit":  edit,
	}, &res); err != nil {
		return err
	}
	if !res.Applied {
		return fmt.Errorf("client did not apply the edit: %s", res.FailureReason)
	}
	return nil
}

// policyEdit builds the workspace edit adding value to [table].key of
// file, and the file's content after it.
func policyEdit(file, table, key, value string) (map[string]any, string, error) {
	data, err := os.ReadFile(file)
	missing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missing {
		return nil, "", fmt.Errorf("reading %s: %w", file, err)
	}
	content := string(data)
	ins, err := InsertArrayValue(content, table, key, value)
	if err != nil {
		return nil, "", err
	}
	u := protocol.DocumentURI(uri.File(file))
	pos := offsetPosition(content, ins.Offset)
	textEdit := map[string]any{
		"textDocument": map[string]any{"uri": u, "version": nil},
		"edits": []protocol.TextEdit{{
			Range:   protocol.Range{Start: pos, End: pos},
			NewText: ins.Text,
		}},
	}
	changes := []any{}
	if missing {
		changes = append(changes, map[string]any{"kind": "create", "uri": u, "options": map[string]any{"ignoreIfExists": true}})
	}
	changes = append(changes, textEdit)
	return map[string]any{"documentChanges": changes}, ins.Apply(content), nil
}

// offsetPosition converts a byte offset to an LSP position (UTF-16).
func offsetPosition(content string, off int) protocol.Position {
	line, start := 0, 0
	for i := 0; i < off && i < len(content); i++ {
		if content[i] == '\n' {
			line++
			start = i + 1
		}
	}
	return protocol.Position{Line: uint32(line), Character: uint32(utf16Len(content[start:off]))}
}
