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
)

// ask puts a question to the user: sandbox/approve when the client opted
// in, else window/showMessageRequest. Anything but a clear yes in time,
// including an error or a dismissed prompt, is a deny.
func (s *server) ask(ctx context.Context, p approveParams) proxy.Answer {
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
			return proxy.Deny
		}
		switch res.Decision {
		case proxy.AllowOnce, proxy.AllowAlways:
			return res.Decision
		}
		return proxy.Deny
	}
	var res *protocol.MessageActionItem
	err := s.conn.call(ctx, "window/showMessageRequest", protocol.ShowMessageRequestParams{
		Type:    protocol.MessageTypeWarning,
		Message: p.Message,
		Actions: []protocol.MessageActionItem{{Title: titleAllowOnce}, {Title: titleAllowAlways}, {Title: titleDeny}},
	}, &res)
	if err != nil || res == nil {
		return proxy.Deny
	}
	switch res.Title {
	case titleAllowOnce:
		return proxy.AllowOnce
	case titleAllowAlways:
		return proxy.AllowAlways
	}
	return proxy.Deny
}

// approver answers the proxy's questions about unknown hosts for one run.
func (s *server) approver(f *folder, runID string) proxy.Approver {
	return proxy.ApproverFunc(func(ctx context.Context, q proxy.Question) (proxy.Answer, error) {
		target := hostRule(q.Host, q.Port)
		ans := s.ask(ctx, approveParams{
			RunID:   runID,
			Kind:    "network",
			Target:  target,
			Command: q.Command,
			Message: fmt.Sprintf("%s wants to connect to %s, which the policy does not mention.", q.Command, target),
		})
		if ans == proxy.AllowAlways {
			if err := s.allowAlways(ctx, f, "network", "allow", hostRule(q.Host, q.Port)); err != nil {
				s.log.Warn("adding the host to the policy", "host", target, "err", err)
			}
		}
		return ans, nil
	})
}

// hostRule writes host[:port] as a policy rule; host may be a canonical
// bracketed IPv6 address.
func hostRule(host string, port int) string {
	if port == 0 {
		return host
	}
	return net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), strconv.Itoa(port))
}

// allowAlways adds value to [table].key of the folder's policy file with
// a minimal edit the client applies (creating the file when missing). The
// content we produce stays trusted when the content before it was.
func (s *server) allowAlways(ctx context.Context, f *folder, table, key, value string) error {
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
		"label": "cordon: allow " + value,
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
