// Package shell is what `cordon shell` needs besides a run: reading its
// arguments the way a POSIX shell does (agents and terminals call it as
// they would call sh or bash), and the pseudo-terminal an interactive
// sandboxed shell runs on, relayed to the caller's terminal.
package shell

import (
	"errors"
	"fmt"
	"strings"
)

// Invocation is a parsed shell command line.
type Invocation struct {
	// Command is the -c string; HasCommand tells an empty one from none.
	Command    string
	HasCommand bool
	// Flags are passed on to the shell inside (-l, -i, -e, -x, -o NAME,
	// --login, ...), in their order.
	Flags []string
	// Operands: with -c, $0 and the positional parameters; without, a
	// script and its arguments.
	Operands []string
	// Interactive: no command and no script, or -i.
	Interactive bool
	Login       bool
}

// single-letter options a POSIX shell (and bash, zsh) takes.
const letters = "abefhiklmnpstuvxCEHPT"

// Parse reads args as `sh [OPTION...] [-c STRING [NAME [ARG...]] | FILE [ARG...]]`:
// options may come in any order and combined (-lc, -ec), -c's string is
// the first operand after the options (so `-c -l 'cmd'`, as agents call
// bash, works), -o and +o take a name, and -- ends the options.
func Parse(args []string) (*Invocation, error) {
	inv := &Invocation{}
	i := 0
	stdin := false
options:
	for ; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--" || a == "-":
			i++
			break options
		case a == "--login":
			inv.Login = true
			inv.Flags = append(inv.Flags, "-l")
		case a == "--norc" || a == "--noprofile" || a == "--posix" || a == "--noediting":
			inv.Flags = append(inv.Flags, a)
		case a == "--rcfile" || a == "--init-file":
			if i+1 >= len(args) {
				return nil, fmt.Errorf("%s needs a file", a)
			}
			inv.Flags = append(inv.Flags, a, args[i+1])
			i++
		case strings.HasPrefix(a, "--"):
			return nil, fmt.Errorf("unknown option %s", a)
		case len(a) > 1 && (a[0] == '-' || a[0] == '+'):
			for j := 1; j < len(a); j++ {
				ch := a[j]
				switch {
				case ch == 'c' && a[0] == '-':
					inv.HasCommand = true
				case ch == 'o':
					if j != len(a)-1 || i+1 >= len(args) {
						return nil, fmt.Errorf("%co needs an option name", a[0])
					}
					inv.Flags = append(inv.Flags, string(a[0])+"o", args[i+1])
					i++
				case strings.IndexByte(letters, ch) >= 0:
					inv.Flags = append(inv.Flags, string(a[0])+string(ch))
					switch ch {
					case 'l':
						inv.Login = a[0] == '-'
					case 'i':
						inv.Interactive = a[0] == '-'
					case 's':
						stdin = a[0] == '-'
					}
				default:
					return nil, fmt.Errorf("unknown option %c%c", a[0], ch)
				}
			}
		default:
			break options
		}
	}
	rest := args[i:]
	if inv.HasCommand {
		if len(rest) == 0 {
			return nil, errors.New("-c needs a command string")
		}
		inv.Command, inv.Operands = rest[0], rest[1:]
		return inv, nil
	}
	inv.Operands = rest
	if len(rest) == 0 || stdin {
		inv.Interactive = inv.Interactive || len(rest) == 0
	}
	return inv, nil
}

// Argv is the command line of the shell inside the sandbox.
func (inv *Invocation) Argv(shell string) []string {
	argv := append([]string{shell}, inv.Flags...)
	if inv.HasCommand {
		argv = append(argv, "-c", inv.Command)
	} else if len(inv.Operands) > 0 {
		argv = append(argv, "--")
	}
	return append(argv, inv.Operands...)
}
