package source

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// pipeDialer hands out one end of a net.Pipe and keeps the other.
func pipeDialer(t *testing.T) (dialFunc, chan net.Conn) {
	far := make(chan net.Conn, 1)
	return func(context.Context, string, string) (net.Conn, error) {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		far <- b
		return a, nil
	}, far
}

func TestGuardedConnEndsASilentWait(t *testing.T) {
	dial, far := pipeDialer(t)
	c, err := guardedDialer(dial, 100*time.Millisecond)(context.Background(), "tcp", "x")
	if err != nil {
		t.Fatal(err)
	}
	peer := <-far
	// A caller that clears its deadline (as go-mysql does on a query
	// connection) must not switch the guard off.
	if err := c.SetDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	// Bytes that keep arriving keep the connection alive past the timeout.
	go func() {
		for i := 0; i < 5; i++ {
			time.Sleep(40 * time.Millisecond)
			if _, err := peer.Write([]byte{byte(i)}); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 1)
	for i := 0; i < 5; i++ {
		if _, err := c.Read(buf); err != nil {
			t.Fatalf("read %d of a live stream: %v", i, err)
		}
	}
	// Then silence: the read ends with a timeout instead of waiting forever.
	done := make(chan error, 1)
	go func() { _, err := c.Read(buf); done <- err }()
	wantDeadline(t, done, "a silent read")
}

// wantDeadline waits (bounded) for a blocked read to end with a deadline error.
func wantDeadline(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%s ended with %v, want a deadline error", what, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s was never ended by a deadline", what)
	}
}

// go-mysql unblocks a read on close by setting a deadline just ahead: a
// deadline sooner than the guard's wins, also for a Read already waiting.
func TestGuardedConnKeepsASoonerDeadline(t *testing.T) {
	dial, _ := pipeDialer(t)
	c, err := guardedDialer(dial, time.Hour)(context.Background(), "tcp", "x")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := c.Read(make([]byte, 1)); done <- err }()
	time.Sleep(20 * time.Millisecond) // let it block
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	wantDeadline(t, done, "a read waiting under the caller's sooner deadline")
}

func TestGuardedDialerOff(t *testing.T) {
	dial, _ := pipeDialer(t)
	c, err := guardedDialer(dial, 0)(context.Background(), "tcp", "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(*guardedConn); ok {
		t.Fatal("timeout 0 still guards the connection")
	}
}
