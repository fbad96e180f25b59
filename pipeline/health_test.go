package pipeline

import (
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// One line per change of a part's state: a reason that changes while the
// part stays not ready is not a new line, and a part dropped on the way out
// is not reported ready.
func TestHealthLogsChangesOfStateOnly(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	h := NewHealth(zap.New(core), nil)
	h.starting("binlog")
	h.ok("binlog")
	for _, why := range []string{"save failed: tmp-1", "save failed: tmp-2", "save failed: tmp-3"} {
		h.bad("checkpoint", why)
	}
	h.ok("checkpoint")
	h.bad("checkpoint", "save failed: tmp-4")
	h.drop("checkpoint", "binlog")
	var got []string
	for _, e := range logs.All() {
		got = append(got, e.Message)
	}
	want := "ready: binlog|not ready: checkpoint|ready: checkpoint|not ready: checkpoint"
	if strings.Join(got, "|") != want {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.ReplaceAll(want, "|", "\n"))
	}
	if ok, text := h.Status(); !ok {
		t.Errorf("dropped parts still reported: %q", text)
	}
}

func TestHealthUnfinishedNamesPendingWork(t *testing.T) {
	h := NewHealth(zap.NewNop(), nil)
	n := 3
	remove := h.pending("messages not acknowledged by kafka", func() int { return n })
	h.bad("invalidations", "stalled")
	if got := h.Unfinished(); got != "3 messages not acknowledged by kafka; invalidations: stalled" {
		t.Errorf("unfinished: %q", got)
	}
	remove()
	h.ok("invalidations")
	if got := h.Unfinished(); got != "nothing reported" {
		t.Errorf("unfinished after: %q", got)
	}
}

// A degraded part (a read replica down) leaves the process ready and is
// listed under "ready (degraded)" until it clears.
func TestHealthDegradedStaysReady(t *testing.T) {
	h := NewHealth(zap.NewNop(), nil)
	h.degrade("replica r1", "does not answer")
	if ok, text := h.Status(); !ok || text != "ready (degraded)\nreplica r1: does not answer\n" {
		t.Errorf("degraded: %v %q", ok, text)
	}
	h.bad("binlog", "reconnecting")
	if ok, text := h.Status(); ok || strings.Contains(text, "replica") {
		t.Errorf("not ready: %v %q", ok, text)
	}
	h.ok("binlog")
	h.degrade("replica r1", "")
	if ok, text := h.Status(); !ok || text != "ready\n" {
		t.Errorf("cleared: %v %q", ok, text)
	}
}
