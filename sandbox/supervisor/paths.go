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
