package main

import (
	"testing"

	gocanal "github.com/go-mysql-org/go-mysql/canal"
	"github.com/go-mysql-org/go-mysql/mysql"
)

// The decode-only counter's figure is rows changed: an UPDATE's two images
// are one row, and it reports exactly once, when the count reaches expect.
func TestCounter(t *testing.T) {
	c := &counter{expect: 5, done: make(chan struct{})}
	closed := func() bool {
		select {
		case <-c.done:
			return true
		default:
			return false
		}
	}
	for _, step := range []struct {
		action string
		images int
		rows   int
		done   bool
	}{
		{gocanal.UpdateAction, 4, 2, false}, // before and after of two rows
		{gocanal.InsertAction, 2, 4, false},
		{gocanal.UpdateAction, 2, 5, true},
		{gocanal.DeleteAction, 3, 8, true}, // past expect: done is not closed twice
	} {
		if err := c.OnRow(&gocanal.RowsEvent{Action: step.action, Rows: make([][]any, step.images)}); err != nil {
			t.Fatal(err)
		}
		if c.rows != step.rows || closed() != step.done {
			t.Fatalf("after %d %s images: %d rows, done %v; want %d, %v", step.images, step.action, c.rows, closed(), step.rows, step.done)
		}
	}
}

func TestStartPos(t *testing.T) {
	got, err := startPos(nil, "mariadb-bin.000007:1234")
	if err != nil || got != (mysql.Position{Name: "mariadb-bin.000007", Pos: 1234}) {
		t.Fatalf("%v, %v", got, err)
	}
	for _, bad := range []string{"mariadb-bin.000007", ":4", "f:x", "f:-1", "f:4294967296"} {
		if _, err := startPos(nil, bad); err == nil {
			t.Errorf("--position %q accepted", bad)
		}
	}
}
