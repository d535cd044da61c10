//go:build linux

package linux

import (
	"os"
	"testing"
)

// The test binary doubles as cordon's init and reaper stages, the way the
// cordon binary re-executes itself inside bwrap.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case InitArg:
			os.Exit(InitMain(os.Args[2:]))
		case ReapArg:
			os.Exit(ReapMain(os.Args[2:]))
		}
	}
	os.Exit(m.Run())
}
