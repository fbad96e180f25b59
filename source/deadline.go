package source

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachesync/cachesync/config"
)

// StreamDialer dials the connections go-mysql canal opens on its own (the
// binlog stream and its schema queries): every wait for a byte ends within
// readTimeout (guardedDialer), and the handshake asks for source.charset
// (handshakeCharset), since no SET NAMES can follow on those connections.
func StreamDialer(src config.SourceConfig, readTimeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	dial := (&net.Dialer{Timeout: src.DialTimeout(), KeepAlive: 30 * time.Second}).DialContext
	return handshakeCharset(guardedDialer(dial, readTimeout), src.Charset)
}

// dialFunc is the shape of go-mysql's client.Dialer.
type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// guardedDialer dials connections on which every Read waits at most
// timeout for a byte. go-mysql sets a read deadline on the binlog stream
// only between packets, and none on canal's own query connection or during
// a handshake, so a frozen server or a half-open connection could hold a
// reconnect forever; with the guard every wait ends within timeout and the
// tailer reconnects from the last transaction boundary. timeout 0 returns
// the dialer as it is.
func guardedDialer(dial dialFunc, timeout time.Duration) dialFunc {
	if timeout <= 0 {
		return dial
	}
	return wrapDial(dial, func(c net.Conn) net.Conn { return &guardedConn{Conn: c, timeout: timeout} })
}

// wrapDial returns a dialer whose connections are dial's, wrapped.
func wrapDial(dial dialFunc, wrap func(net.Conn) net.Conn) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return wrap(c), nil
	}
}

// guardedConn renews the read deadline before each Read, so it means
// "nothing arrived for timeout". A deadline the caller sets is kept when it
// is sooner (go-mysql sets one 100ms ahead to unblock a read on close), and
// clearing it never turns the guard off.
type guardedConn struct {
	net.Conn
	timeout time.Duration
	caller  atomic.Int64 // the caller's read deadline, unix ns; 0: none
}

func (c *guardedConn) Read(p []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(c.deadline(time.Now())); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *guardedConn) deadline(now time.Time) time.Time {
	d := now.Add(c.timeout)
	if ns := c.caller.Load(); ns != 0 && ns < d.UnixNano() {
		return time.Unix(0, ns)
	}
	return d
}

func (c *guardedConn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		c.caller.Store(0)
		return nil
	}
	c.caller.Store(t.UnixNano())
	return c.Conn.SetReadDeadline(c.deadline(time.Now())) // a blocked Read sees it now
}

func (c *guardedConn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.SetReadDeadline(t)
}

// handshakeBound wraps dial so that abort closes the connection it dialed:
// go-mysql's handshake takes no context, and a server that accepts and never
// answers would otherwise hold it for the read guard's whole timeout.
func handshakeBound(dial dialFunc) (bounded dialFunc, abort func()) {
	var mu sync.Mutex
	var conn net.Conn
	aborted := false
	bounded = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		if aborted {
			c.Close()
			return nil, net.ErrClosed
		}
		conn = c
		return c, nil
	}
	abort = func() {
		mu.Lock()
		defer mu.Unlock()
		aborted = true
		if conn != nil {
			conn.Close()
		}
	}
	return bounded, abort
}

// ConnectError is a failure to connect to the source at all (unreachable,
// no handshake, credentials refused): a caller that runs several checks on
// the source stops at the first one, instead of repeating the same error.
type ConnectError struct{ Err error }

func (e *ConnectError) Error() string { return e.Err.Error() }
func (e *ConnectError) Unwrap() error { return e.Err }
