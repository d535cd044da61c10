package shell

import (
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		args         []string
		argv         []string // with shell "sh"
		inter, login bool
	}{
		{[]string{"-c", "echo hi"}, []string{"sh", "-c", "echo hi"}, false, false},
		{[]string{"-c", "-l", "echo hi"}, []string{"sh", "-l", "-c", "echo hi"}, false, true}, // how agents call bash
		{[]string{"-lc", "echo hi"}, []string{"sh", "-l", "-c", "echo hi"}, false, true},
		{[]string{"-ec", "false; echo no", "name", "a1"}, []string{"sh", "-e", "-c", "false; echo no", "name", "a1"}, false, false},
		{[]string{"-o", "pipefail", "-c", "x"}, []string{"sh", "-o", "pipefail", "-c", "x"}, false, false},
		{[]string{"+e", "-c", "x"}, []string{"sh", "+e", "-c", "x"}, false, false},
		{[]string{"--login", "-i"}, []string{"sh", "-l", "-i"}, true, true},
		{nil, []string{"sh"}, true, false},
		{[]string{"-l"}, []string{"sh", "-l"}, true, true},
		{[]string{"script.sh", "-c", "x"}, []string{"sh", "--", "script.sh", "-c", "x"}, false, false},
		{[]string{"--", "-script"}, []string{"sh", "--", "-script"}, false, false},
		{[]string{"-c", ""}, []string{"sh", "-c", ""}, false, false},
	} {
		inv, err := Parse(c.args)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		if got := inv.Argv("sh"); !reflect.DeepEqual(got, c.argv) {
			t.Errorf("%q: argv %q, want %q", c.args, got, c.argv)
		}
		if inv.Interactive != c.inter || inv.Login != c.login {
			t.Errorf("%q: interactive %v login %v", c.args, inv.Interactive, inv.Login)
		}
	}
	for _, bad := range [][]string{{"-c"}, {"-o"}, {"-Z"}, {"--frobnicate"}, {"-oc", "x"}} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("-c\x00echo hi")
	f.Add("-lc\x00x\x00a")
	f.Fuzz(func(t *testing.T, s string) {
		var args []string
		start := 0
		for i := 0; i <= len(s); i++ {
			if i == len(s) || s[i] == 0 {
				args = append(args, s[start:i])
				start = i + 1
			}
		}
		inv, err := Parse(args)
		if err != nil {
			return
		}
		argv := inv.Argv("sh")
		if argv[0] != "sh" {
			t.Fatal("argv[0]")
		}
		// The command string reaches the shell whole, as -c's argument.
		if inv.HasCommand {
			found := false
			for i := 1; i+1 < len(argv); i++ {
				if argv[i] == "-c" && argv[i+1] == inv.Command {
					found = true
				}
			}
			if !found {
				t.Fatalf("%q → %q", args, argv)
			}
		}
	})
}
