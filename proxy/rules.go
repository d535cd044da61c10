package proxy

import (
	"github.com/cordon-dev/cordon/workspace"
)

// Verdict of the rules on a host name alone.
type Verdict int

const (
	Unknown Verdict = iota
	Allowed
	Denied
)

func (v Verdict) String() string {
	switch v {
	case Allowed:
		return "allow"
	case Denied:
		return "deny"
	}
	return "unknown"
}

// Match decides canonical host:port by the policy's rules, by name alone:
// deny rules win over allow rules; ok is false when no rule matched.
func Match(p *workspace.Policy, host string, port int) (Verdict, workspace.HostRule, bool) {
	for _, r := range p.Network.Deny {
		if ruleMatches(r, host, port) {
			return Denied, r, true
		}
	}
	for _, r := range p.Network.Allow {
		if ruleMatches(r, host, port) {
			return Allowed, r, true
		}
	}
	return Unknown, workspace.HostRule{}, false
}

func ruleMatches(r workspace.HostRule, host string, port int) bool {
	return (r.Port == 0 || r.Port == port) && workspace.MatchHost(r.Host, host)
}
