package sink

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/cachesync/cachesync/event"
)

// Printer is the --dry-run output: each key Go-quoted on its own line, so
// any byte survives and one key is one line.
type Printer struct {
	mu     sync.Mutex
	w      *bufio.Writer
	acker  event.Acker
	keys   int64
	err    error
	closed chan struct{}
	once   sync.Once
}

// Send prints b's keys, then the keys its write-through sets would write
// (or tombstone), and acknowledges it.
func (p *Printer) Send(_ context.Context, b *event.Batch) error {
	p.mu.Lock()
	for _, k := range b.Keys {
		p.w.WriteString(strconv.Quote(k))
		p.w.WriteByte('\n')
	}
	for i := range b.Sets {
		p.w.WriteString(strconv.Quote(b.Sets[i].Key))
		p.w.WriteByte('\n')
	}
	p.keys += int64(len(b.Keys) + len(b.Sets))
	err := p.w.Flush()
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("writing keys to stdout: %w", err)
	}
	p.mu.Unlock()
	if err != nil {
		return err
	}
	p.acker.Done(b.Seq)
	return nil
}

// Run waits for Close (or ctx) and returns the first write error.
func (p *Printer) Run(ctx context.Context) error {
	select {
	case <-p.closed:
	case <-ctx.Done():
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Close ends Run.
func (p *Printer) Close() { p.once.Do(func() { close(p.closed) }) }

// Printed is how many keys were printed.
func (p *Printer) Printed() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keys
}

// NewPrinter prints to w and acknowledges each batch to acker once printed.
func NewPrinter(w io.Writer, acker event.Acker) *Printer {
	return &Printer{w: bufio.NewWriter(w), acker: acker, closed: make(chan struct{})}
}
