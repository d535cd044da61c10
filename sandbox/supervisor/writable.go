//go:build linux

package supervisor

// mayWrite reports whether the directory dir (a real path inside the
// sandbox) lies in a place the run may write: a writable place, the
// run's temp dir, or the sandbox's own /dev and /proc (where the kernel's
// own checks decide, as the judge's report does). The guard makes names on
// the host, where neither the caller's Landlock layer nor (for a path
// that leaves the writable binds) anything but the mounts applies; it
// holds Landlock's line itself, so that a mistake in the mounts does not
// let the guard write where the layer under them would refuse.
//
// A standalone run has no /dev or /proc of its own: those are the host's,
// and what is written there is left to the kernel and Landlock.
func (j *Judge) mayWrite(dir string) bool {
	if UnderAny(dir, j.Writable) || (j.TempDir != "" && Within(j.TempDir, dir)) {
		return true
	}
	return !j.Standalone && (Within("/dev", dir) || Within("/proc", dir))
}
