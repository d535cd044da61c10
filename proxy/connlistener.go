package proxy

import (
	"net"
	"sync"
)

// connListener is the listener of an in-process http.Server (goproxy's,
// the git endpoint's): the session hands it each connection whose first
// request is for that server.
type connListener struct {
	name  string
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func newConnListener(name string) *connListener {
	return &connListener{name: name, conns: make(chan net.Conn), done: make(chan struct{})}
}

// serveConn hands c to the server and waits until it is done with it.
func (l *connListener) serveConn(c net.Conn) {
	wc := &watchedConn{Conn: c, closed: make(chan struct{})}
	select {
	case l.conns <- wc:
	case <-l.done:
		return
	}
	select {
	case <-wc.closed:
	case <-l.done:
	}
}

// watchedConn tells serveConn when the server closed the connection.
type watchedConn struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

func (c *watchedConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// Accept, Close and Addr make connListener a net.Listener.
func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return &net.UnixAddr{Name: l.name, Net: "unix"} }
