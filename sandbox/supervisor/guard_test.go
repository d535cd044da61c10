//go:build linux

package supervisor

import "testing"

func TestNameModeDropsSetID(t *testing.T) {
	for _, c := range []struct{ mode, umask, want uint32 }{
		{0o6777, 0, 0o777},
		{0o4755, 0o022, 0o755},
		{0o2775, 0o002, 0o775},
		{0o1777, 0o022, 0o1755}, // sticky is harmless and kept
		{0o666, 0o077, 0o600},
	} {
		if got := nameMode(c.mode, c.umask); got != c.want {
			t.Errorf("nameMode(%o, %o) = %o, want %o", c.mode, c.umask, got, c.want)
		}
	}
}
