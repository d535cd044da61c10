package sandbox

import "testing"

func TestCommandLine(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"npm", "test"}, "npm test"},
		{[]string{"sh", "-c", "echo hi > x"}, `sh -c 'echo hi > x'`},
		{[]string{"echo", "it's"}, `echo 'it'\''s'`},
		{[]string{"printf", ""}, `printf ''`},
		{[]string{"go", "test", "./..."}, "go test ./..."},
	} {
		if got := CommandLine(tc.argv); got != tc.want {
			t.Errorf("CommandLine(%q) = %s, want %s", tc.argv, got, tc.want)
		}
	}
}
