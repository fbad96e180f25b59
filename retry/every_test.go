package retry

import (
	"context"
	"testing"
	"time"
)

func TestEveryStopsWhenFnSaysSo(t *testing.T) {
	calls := 0
	Every(context.Background(), time.Millisecond, func() bool {
		calls++
		return calls < 3
	})
	if calls != 3 {
		t.Fatalf("fn ran %d times, want 3 (it returned false on the third)", calls)
	}
}

func TestEveryStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		calls := 0
		Every(ctx, time.Millisecond, func() bool { calls++; return true })
		done <- calls
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case calls := <-done:
		if calls == 0 {
			t.Fatal("fn never ran in 20 periods")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Every did not return after ctx ended")
	}
}
