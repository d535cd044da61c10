package netinside

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/cordon-dev/cordon/sandbox/proxyenv"
)

// Connect is `cordon connect HOST PORT`, ssh's ProxyCommand inside the
// sandbox: it dials the bridge at bridge (host:port; "" means $CORDON_PROXY),
// asks the proxy for host:port over SOCKS5 and pipes in to the tunnel and
// the tunnel to out until the remote side ends.
func Connect(ctx context.Context, bridge, host string, port int, in io.Reader, out io.Writer) error {
	if bridge == "" {
		bridge = os.Getenv(proxyenv.BridgeVar)
	}
	if bridge == "" {
		return fmt.Errorf("%s is not set: cordon connect works only inside cordon run", proxyenv.BridgeVar)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", bridge)
	if err != nil {
		return fmt.Errorf("the sandbox's proxy bridge: %w", err)
	}
	defer c.Close()
	if err := SOCKSConnect(ctx, c, host, port); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	go func() {
		_, _ = io.Copy(c, in)
		_ = c.(*net.TCPConn).CloseWrite()
	}()
	_, err = io.Copy(out, c)
	// ssh ends its ProxyCommand with SIGTERM once the session is over:
	// a cancelled context after the tunnel was up is the normal end.
	if err != nil && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("tunnel to %s:%d: %w", host, port, err)
	}
	return nil
}
