//go:build linux

package linux

// RuntimeDir is cordon's private per-user scratch directory on the host
// ($XDG_RUNTIME_DIR/cordon, else $TMPDIR/cordon-UID), made 0700 and
// checked to be ours.
func RuntimeDir() (string, error) { return runtimeDir() }
