//go:build linux

package initstage

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// LayersArg is the hidden subcommand that mounts a run's cache layers and
// execs bwrap (see sandbox/linux/layers.go). It is part of the stage's
// small image because it runs once per command too, on the host side of
// bwrap, in a user and mount namespace cordon made for it.
const LayersArg = "__layers"

// Layer is one copy-on-write cache directory.
type Layer struct {
	Path  string `json:"path"`  // the host's directory, and where the overlay goes
	Upper string `json:"upper"` // this workspace's writes
	Work  string `json:"work"`  // overlayfs's scratch directory (same filesystem as Upper)
}

// LayersArgv is the command that mounts layers and then runs bwrap; both
// run with the environment cordon gives host-side processes.
func LayersArgv(self, bwrap string, layers []Layer, bwrapArgs []string) []string {
	spec, _ := json.Marshal(layers)
	return append([]string{self, LayersArg, base64.RawURLEncoding.EncodeToString(spec), bwrap, "--"}, bwrapArgs...)
}

// LayersMain runs in the namespace cordon made for it: SPEC BWRAP --
// ARGS... It mounts the layers SPEC names and execs BWRAP ARGS.
func LayersMain(args []string) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "cordon: cache layers: "+format+"\n", a...)
		return 125
	}
	if len(args) < 3 || args[2] != "--" {
		return fail("usage: SPEC BWRAP -- ARGS")
	}
	raw, err := base64.RawURLEncoding.DecodeString(args[0])
	if err != nil {
		return fail("%v", err)
	}
	var layers []Layer
	if err := json.Unmarshal(raw, &layers); err != nil {
		return fail("%v", err)
	}
	// Nothing mounted here may reach the namespace this one was copied from.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fail("making mounts private: %v", err)
	}
	for _, l := range layers {
		opts := "lowerdir=" + l.Path + ",upperdir=" + l.Upper + ",workdir=" + l.Work
		// userxattr: overlayfs keeps its metadata in user.* attributes,
		// the only ones a user namespace may write.
		err := unix.Mount("overlay", l.Path, "overlay", unix.MS_NOSUID|unix.MS_NODEV, opts+",userxattr")
		if errors.Is(err, unix.EINVAL) {
			err = unix.Mount("overlay", l.Path, "overlay", unix.MS_NOSUID|unix.MS_NODEV, opts)
		}
		if err != nil {
			return fail("overlay on %s: %v", l.Path, err)
		}
	}
	argv := append([]string{args[1]}, args[3:]...)
	err = syscall.Exec(args[1], argv, os.Environ())
	return fail("exec %s: %v", args[1], err)
}
