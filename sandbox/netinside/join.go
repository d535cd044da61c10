package netinside

import (
	"io"
	"net"
)

// Join copies both ways until both directions end, half-closing each
// side as its source ends so protocols that shut down writing first work.
// Given the raw *net.TCPConn and *net.UnixConn, io.Copy splices in the
// kernel.
func Join(a, b interface {
	net.Conn
	CloseWrite() error
}) {
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(b, a)
		_ = b.CloseWrite()
		close(done)
	}()
	_, _ = io.Copy(a, b)
	_ = a.CloseWrite()
	<-done
}
