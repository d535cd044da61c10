package mcp

import (
	"fmt"
	"strings"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/workspace"
)

// explainViolation says in plain words what was blocked, which rule
// decided it, and what the user could change. The model reads it; it must
// tell the model to ask the user, never suggest working around the sandbox.
func explainViolation(v sandbox.Violation, pol *workspace.Policy) string {
	rule := "the built-in defaults"
	if !v.Rule.IsDefault() {
		rule = "the rule at " + v.Rule.String()
	}
	file := pol.File
	switch v.Kind {
	case sandbox.KindWrite:
		if v.Rule.IsDefault() {
			return fmt.Sprintf("writing %s was refused by %s: only the workspace %s and the temp dir are writable. If the command needs it, ask the user to add it to [filesystem] allow_write in %s.", v.Target, rule, pol.Root, file)
		}
		return fmt.Sprintf("writing %s was refused by %s. Only the user can change that rule; ask them if the write is needed.", v.Target, rule)
	case sandbox.KindRead:
		return fmt.Sprintf("reading %s was refused by %s (credentials and cordon's own files are unreadable). If the command needs it, ask the user to add it to [filesystem] allow_read in %s.", v.Target, rule, file)
	case sandbox.KindNet:
		host := v.Target
		if v.Rule.IsDefault() {
			return fmt.Sprintf("the connection to %s was refused: no rule of the policy allows it and nobody approved it. Ask the user to allow %s in [network] allow of %s (or to approve it when asked).", v.Target, hostOnly(host), file)
		}
		return fmt.Sprintf("the connection to %s was refused by %s. Only the user can change that rule.", v.Target, rule)
	case sandbox.KindUnixSocket:
		return fmt.Sprintf("connecting to the unix socket %s was refused by %s. If the command needs it, ask the user to add it to [network] allow_unix_sockets in %s.", v.Target, rule, file)
	}
	return fmt.Sprintf("%s %s was refused by %s.", v.Kind, v.Target, rule)
}

// hostOnly drops the port a target carries, as a rule would name the host.
func hostOnly(target string) string {
	if strings.HasPrefix(target, "[") {
		if i := strings.Index(target, "]"); i > 0 {
			return target[:i+1]
		}
	}
	if i := strings.LastIndexByte(target, ':'); i > 0 && !strings.Contains(target[:i], ":") {
		return target[:i]
	}
	return target
}
