//go:build linux

package supervisor

import (
	"errors"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

const atFDCWD = -100

// Within reports whether p is dir or below it (both clean and absolute).
func Within(dir, p string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// UnderAny reports whether p is within one of dirs.
func UnderAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if Within(d, p) {
			return true
		}
	}
	return false
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func readlinkat(dir int, base string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dir, base, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// cleanAbs cleans an absolute path lexically, for matching the names of
// descriptors only (never for resolving: ".." after a symlink is not
// lexical).
func cleanAbs(p string) string {
	if !strings.HasPrefix(p, "/") {
		return p
	}
	parts := strings.Split(p, "/")
	out := parts[:0]
	for _, s := range parts {
		switch s {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/")
}

func errnoOf(err error) unix.Errno {
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return unix.EIO
}

// Resolving paths the sandbox can rearrange. Every host-side open,
// create or remove below a writable place goes through these: the path is
// split into a root cordon chose (a writable place, symlink-free when the
// plan was made) and a relative rest, and the rest is resolved by the
// kernel beneath the root's descriptor, refusing every symbolic link
// (ELOOP) and every escape (EXDEV). Nothing is checked and then acted on
// by name.

const beneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// OpenRoot opens the absolute directory root, refusing a symbolic link
// anywhere in it.
func OpenRoot(root string) (int, error) {
	fd, err := unix.Openat2(unix.AT_FDCWD, root, &unix.OpenHow{
		Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: root, Err: err}
	}
	return fd, nil
}

// OpenBeneath opens rel below the directory descriptor dir, following
// no symbolic link and never leaving dir. rel "" or "." is dir itself.
func OpenBeneath(dir int, rel string, flags int, mode uint32) (int, error) {
	if rel == "" {
		rel = "."
	}
	return unix.Openat2(dir, rel, &unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Mode: uint64(mode), Resolve: beneath})
}

// LinkFree reports whether path lies below root (an absolute, clean,
// symlink-free directory) with no symbolic link in any component, its
// last included: nil when so, an error wrapping ENOENT when a component
// is missing, ELOOP when one is a link. For planning only; acting on the
// answer later goes through OpenBeneath again.
func LinkFree(root, path string) error {
	rel, ok := relBelow(root, path)
	if !ok {
		return &os.PathError{Op: "resolve", Path: path, Err: unix.EXDEV}
	}
	rfd, err := OpenRoot(root)
	if err != nil {
		return err
	}
	defer unix.Close(rfd)
	// No O_NOFOLLOW: with O_PATH it would open a trailing link itself
	// rather than refuse it (openat2(2)).
	fd, err := OpenBeneath(rfd, rel, unix.O_PATH, 0)
	if err != nil {
		return &os.PathError{Op: "resolve", Path: path, Err: err}
	}
	unix.Close(fd)
	return nil
}

// InnermostRoot is the innermost of roots holding path, "" for none.
func InnermostRoot(path string, roots []string) string {
	best := ""
	for _, r := range roots {
		if Within(r, path) && len(r) > len(best) {
			best = r
		}
	}
	return best
}

// relBelow is path relative to root ("." for root itself).
func relBelow(root, path string) (string, bool) {
	if !Within(root, path) {
		return "", false
	}
	if path == root {
		return ".", true
	}
	if root == "/" {
		return path[1:], true
	}
	return path[len(root)+1:], true
}

// splitRel splits a relative path into its parent ("." for none) and
// last component.
func splitRel(rel string) (dir, base string) {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return ".", rel
	}
	return rel[:i], rel[i+1:]
}
