//go:build linux

package supervisor

import "testing"

// TestStandaloneHostDevIsNotWritable: without a mount namespace /dev and
// /proc are the host's: the supervisor never acts there for the command
// (as root with no capabilities, a chmod it made of /dev/null would go
// through). Under bwrap they are the sandbox's own.
func TestStandaloneHostDevIsNotWritable(t *testing.T) {
	for _, standalone := range []bool{false, true} {
		j := &Judge{Writable: []string{"/ws"}, Standalone: standalone}
		for _, dir := range []string{"/dev", "/dev/pts", "/proc/1"} {
			if got := j.mayWrite(dir); got == standalone {
				t.Errorf("standalone %v: mayWrite(%s) = %v", standalone, dir, got)
			}
		}
		if !j.mayWrite("/ws/src") || j.mayWrite("/etc") {
			t.Errorf("standalone %v: the writable place is judged wrong", standalone)
		}
	}
}
