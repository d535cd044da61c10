// Package workspace resolves a workspace root, parses and merges its
// .sandbox.toml policy with the user defaults, and decides trust.
//
// The types in this file are the policy model every other package reads.
// A Policy is immutable once built: reloads build a new one.
package workspace

import (
	"fmt"
	"time"
)

// Source says where a rule came from: a policy file position, or the
// built-in defaults when File is empty.
type Source struct {
	File string // absolute path of the policy file; "" for built-in defaults
	Line int    // 1-based; 0 for built-in defaults
	Col  int    // 1-based; 0 when unknown
}

// IsDefault reports whether the rule is a built-in default.
func (s Source) IsDefault() bool { return s.File == "" }

// String renders the source as DESIGN's RULE: "FILE:LINE" or "default".
func (s Source) String() string {
	if s.File == "" {
		return "default"
	}
	return fmt.Sprintf("%s:%d", s.File, s.Line)
}

// PathRule is one filesystem rule.
type PathRule struct {
	Pattern string // as written in the file ("~/.aws", "secrets/**")
	Path    string // absolute, cleaned, "~" expanded; may hold glob metacharacters
	Source  Source
}

// HostRule is one network rule.
type HostRule struct {
	Pattern string // as written
	Host    string // canonical host: "example.com", "*.example.com", "10.0.0.7", "[::1]"
	Port    int    // 0 means any port
	Source  Source
}

// Unknown is what happens to a host no rule covers.
type Unknown string

const (
	UnknownAsk  Unknown = "ask"
	UnknownDeny Unknown = "deny"
)

// Filesystem is the [filesystem] table.
type Filesystem struct {
	AllowWrite []PathRule
	DenyWrite  []PathRule
	DenyRead   []PathRule // includes the credential set (Source.IsDefault)
	AllowRead  []PathRule
	// Cache directories are writable copy-on-write: reads see the host's,
	// writes land in a layer of this workspace's own (DefaultCaches first).
	Cache []PathRule
}

// Network is the [network] table.
type Network struct {
	Allow            []HostRule
	Deny             []HostRule
	Unknown          Unknown
	UnknownSource    Source
	AllowUnixSockets []PathRule
	// Publish are sandbox loopback ports reachable from the host's
	// loopback while a run lives.
	Publish []PortRule
}

// PortRule is one [network].publish entry.
type PortRule struct {
	Port   int
	Source Source
}

// EnvVar is one [env].set entry.
type EnvVar struct {
	Name, Value string
	Source      Source
}

// EnvPass is one [env].pass entry.
type EnvPass struct {
	Name   string
	Source Source
}

// Env is the [env] table.
type Env struct {
	Pass []EnvPass
	Set  []EnvVar
}

// Limits is the [limits] table; zero values mean no limit.
type Limits struct {
	Timeout   time.Duration
	Memory    int64 // bytes
	Processes int
}

// Widening is something a workspace file allows beyond the user defaults,
// which applies only once the file's content is trusted.
type Widening struct {
	Kind   string // "write", "read", "net", "env", "unix-socket", "git", "publish"
	Target string // the path, host[:port], variable name, or git entry
	Source Source
}

func (w Widening) String() string {
	return fmt.Sprintf("%s %s (%s)", w.Kind, w.Target, w.Source)
}

// Policy is the effective, merged policy for one workspace root.
type Policy struct {
	Root     string   // workspace root: absolute, symlinks resolved
	Folders  []string // every workspace folder root (Root first)
	Home     string   // the user's home directory
	File     string   // the workspace policy file (it may not exist)
	UserFile string   // the user defaults file (it may not exist)
	StateDir string   // cordon's state directory (trust store, audit log)
	// ConfigDir is cordon's config directory (holds UserFile by default).
	ConfigDir string
	Hash      string // hex SHA-256 of the workspace file's content; "" when absent
	Trusted   bool   // the workspace file's content is approved (or widens nothing)

	Filesystem Filesystem
	Network    Network
	Env        Env
	Limits     Limits
	Git        Git
	// LimitSources says which file set each limit in force ("timeout",
	// "memory", "processes"); absent means no limit.
	LimitSources map[string]Source

	// Untrusted lists the widenings left out because the workspace file
	// is not trusted yet. Empty when Trusted.
	Untrusted []Widening
	// Warnings are risky but valid rules (policy-warning diagnostics).
	Warnings []Diagnostic
}

// Diagnostic is an error or warning at a position in a policy file.
type Diagnostic struct {
	File     string
	Line     int // 1-based
	Col      int // 1-based
	EndLine  int // 0 when unknown
	EndCol   int
	Severity Severity
	Message  string
}

// Severity of a Diagnostic.
type Severity int

const (
	SeverityError Severity = iota + 1
	SeverityWarning
)

func (d Diagnostic) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", d.File, d.Line, d.Col, d.Message)
}
