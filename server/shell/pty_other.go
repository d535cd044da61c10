//go:build !linux

package shell

import (
	"errors"
	"os"
)

type PTY struct{ Master, Slave *os.File }

func OpenPTY() (*PTY, error) {
	return nil, errors.New("pty: interactive cordon shell is Linux-only for now")
}

func IsTerminal(*os.File) bool { return false }

type Relay struct{}

func StartRelay(*PTY, *os.File, *os.File) (*Relay, error) {
	return nil, errors.New("pty: not supported")
}

func (*Relay) Stop() {}
