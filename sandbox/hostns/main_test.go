//go:build linux

package hostns

import (
	"os"
	"testing"

	"github.com/cordon-dev/cordon/sandbox/linux/initstage"
)

// The test binary doubles as cordon's keeper and init stage, the way the
// cordon binary re-executes itself.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case initstage.KeeperArg:
			os.Exit(initstage.KeeperMain(os.Args[2:]))
		case initstage.Arg:
			os.Exit(initstage.Main(os.Args[2:]))
		}
	}
	os.Exit(m.Run())
}
