// Package control is the per-workspace control socket of an editor
// session: while `cordon lsp` serves a workspace it listens on a unix
// socket in cordon's runtime directory, and `cordon run`, `cordon mcp` and
// `cordon shell` started for the same workspace route their approvals and
// violations through it, so the editor is the control room for every run.
//
// The socket is host-side attack surface. Its directory is 0700 and owned
// by the user (anything else is refused, never repaired), both ends check
// the other's uid with SO_PEERCRED, the directory is hidden inside every
// sandbox (it is in the credential set), and the messages carry no policy:
// a client can ask a question and report what was blocked, never change
// what a run may do.
package control

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// EnsureDir makes cordon's runtime directory (one level; its parent must
// exist) and checks it: a directory, not a symlink, owned by the
// effective user, with no access for group or others. A directory someone
// else made, or one left open, is refused rather than fixed: whoever owns
// it could replace the socket.
func EnsureDir(dir string) error {
	if dir == "" || !filepath.IsAbs(dir) {
		return fmt.Errorf("control: runtime directory %q is not absolute", dir)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("control: making %s: %w", dir, err)
	}
	return checkOwned(dir, true)
}

// checkOwned checks that path (not followed) is ours: a directory with
// mode 0700 when dir, else a socket.
func checkOwned(path string, dir bool) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("control: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("control: %s: no owner information", path)
	}
	if int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("control: refusing %s: owned by uid %d, not %d", path, st.Uid, os.Geteuid())
	}
	switch {
	case dir && !fi.IsDir():
		return fmt.Errorf("control: refusing %s: not a directory (%s)", path, fi.Mode().Type())
	case dir && fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("control: refusing %s: mode %04o lets others in (want 0700)", path, fi.Mode().Perm())
	case !dir && fi.Mode().Type() != fs.ModeSocket:
		return fmt.Errorf("control: refusing %s: not a socket (%s)", path, fi.Mode().Type())
	}
	return nil
}

// SocketPath is the control socket of the workspace rooted at root (an
// absolute path with symlinks resolved, as workspace.FindRoot gives it).
// The name is a hash: a root can be longer than a socket path may be.
func SocketPath(runtimeDir, root string) string {
	sum := sha256.Sum256([]byte(filepath.Clean(root)))
	return filepath.Join(runtimeDir, "ws-"+hex.EncodeToString(sum[:12])+".sock")
}
