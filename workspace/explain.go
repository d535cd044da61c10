package workspace

import (
	"fmt"
	"strings"
)

// Explain renders the effective policy rule by rule, each with where it
// came from, and what an untrusted workspace file was denied.
func Explain(p *Policy) string {
	var b strings.Builder
	fmt.Fprintf(&b, "workspace  %s\n", p.Root)
	for _, f := range p.Folders[1:] {
		fmt.Fprintf(&b, "folder     %s\n", f)
	}
	state := "absent"
	switch {
	case p.Hash != "" && p.Trusted:
		state = "trusted"
	case p.Hash != "":
		state = "NOT trusted: its widenings are left out (cordon trust)"
	}
	fmt.Fprintf(&b, "policy     %s (%s)\n", p.File, state)
	fmt.Fprintf(&b, "defaults   %s\n\n", p.UserFile)

	b.WriteString("filesystem\n")
	fmt.Fprintf(&b, "  write    %-40s (default: the workspace root)\n", p.Root)
	for _, f := range p.Folders[1:] {
		fmt.Fprintf(&b, "  write    %-40s (default: a workspace folder)\n", f)
	}
	fmt.Fprintf(&b, "  write    %-40s (default)\n", "/tmp, private to this workspace ($TMPDIR)")
	section := func(verb string, rs []PathRule) {
		for _, r := range rs {
			src := r.Source.String()
			if AnyDepth(r.Pattern) {
				src += `; no slash in "` + r.Pattern + `": any depth, as in .gitignore`
			}
			fmt.Fprintf(&b, "  %-8s %-40s (%s)\n", verb, r.Path, src)
		}
	}
	section("write", p.Filesystem.AllowWrite)
	section("no-write", p.Filesystem.DenyWrite)
	section("no-read", p.Filesystem.DenyRead)
	section("read", p.Filesystem.AllowRead)
	section("cache", p.Filesystem.Cache)
	fmt.Fprintf(&b, "  protect  %-40s (default: never writable or creatable)\n", strings.Join(ProtectedNames(), " "))

	b.WriteString("\nnetwork\n")
	for _, r := range p.Network.Deny {
		fmt.Fprintf(&b, "  deny     %-40s (%s)\n", hostPort(r), r.Source)
	}
	for _, r := range p.Network.Allow {
		fmt.Fprintf(&b, "  allow    %-40s (%s)\n", hostPort(r), r.Source)
	}
	fmt.Fprintf(&b, "  unknown  %-40s (%s)\n", p.Network.Unknown, p.Network.UnknownSource)
	fmt.Fprintf(&b, "  deny     %-40s (default: unless a rule names them)\n", "loopback, private, link-local, metadata")
	for _, r := range p.Network.AllowUnixSockets {
		fmt.Fprintf(&b, "  socket   %-40s (%s)\n", r.Path, r.Source)
	}
	for _, r := range p.Network.Publish {
		fmt.Fprintf(&b, "  publish  %-40s (%s)\n", fmt.Sprintf("sandbox :%d on the host's localhost:%d", r.Port, r.Port), r.Source)
	}

	b.WriteString("\ngit\n")
	if len(p.Git.Remotes) == 0 {
		fmt.Fprintf(&b, "  remote   %-40s (default)\n", "none: git reaches remotes only as the network rules allow, with no credential")
	}
	for _, r := range p.Git.Remotes {
		fmt.Fprintf(&b, "  remote   %-40s (%s)\n", r.URL, r.Source)
	}
	if len(p.Git.Push) == 0 {
		fmt.Fprintf(&b, "  push     %-40s (%s)\n", "none", p.Git.PushSource)
	}
	for _, r := range p.Git.Push {
		fmt.Fprintf(&b, "  push     %-40s (%s)\n", r.Ref, r.Source)
	}
	fmt.Fprintf(&b, "  force    %-40s (%s)\n", yesNo(p.Git.AllowForce, "non-fast-forward allowed", "no non-fast-forward update"), p.Git.ForceSource)
	fmt.Fprintf(&b, "  delete   %-40s (%s)\n", yesNo(p.Git.AllowDelete, "ref deletion allowed", "no ref deletion"), p.Git.DeleteSource)

	b.WriteString("\nenv\n")
	fmt.Fprintf(&b, "  scrub    %-40s (default)\n", "*_TOKEN *_SECRET *_PASSWORD *_KEY *_CREDENTIALS AWS_* GH_* SSH_AUTH_SOCK")
	for _, e := range p.Env.Pass {
		fmt.Fprintf(&b, "  pass     %-40s (%s)\n", e.Name, e.Source)
	}
	for _, e := range p.Env.Set {
		fmt.Fprintf(&b, "  set      %-40s (%s)\n", e.Name+"="+e.Value, e.Source)
	}

	b.WriteString("\nlimits\n")
	limit := func(name, value string, none bool) {
		src := "default: no limit"
		if !none {
			src = p.LimitSources[name].String()
		} else {
			value = "none"
		}
		fmt.Fprintf(&b, "  %-8s %-40s (%s)\n", name, value, src)
	}
	limit("timeout", p.Limits.Timeout.String(), p.Limits.Timeout == 0)
	limit("memory", fmt.Sprintf("%d bytes", p.Limits.Memory), p.Limits.Memory == 0)
	limit("processes", fmt.Sprint(p.Limits.Processes), p.Limits.Processes == 0)

	if len(p.Untrusted) > 0 {
		b.WriteString("\nleft out until you trust the workspace file (cordon trust)\n")
		for _, w := range p.Untrusted {
			fmt.Fprintf(&b, "  %s\n", w)
		}
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(&b, "\nwarning: %s:%d:%d: %s", w.File, w.Line, w.Col, w.Message)
	}
	if len(p.Warnings) > 0 {
		b.WriteString("\n")
	}
	return b.String()
}

func hostPort(r HostRule) string {
	if r.Port == 0 {
		return r.Host
	}
	return fmt.Sprintf("%s:%d", r.Host, r.Port)
}

func orNone(s string, none bool) string {
	if none {
		return "none"
	}
	return s
}

func yesNo(v bool, yes, no string) string {
	if v {
		return yes
	}
	return no
}
