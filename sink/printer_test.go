package sink

import (
	"context"
	"strings"
	"testing"

	"github.com/cachesync/cachesync/event"
)

func TestPrinterQuotesEachKeyOnItsOwnLineAndAcknowledges(t *testing.T) {
	var out strings.Builder
	var acked []uint64
	p := NewPrinter(&out, event.AckerFunc(func(seq uint64) { acked = append(acked, seq) }))
	keys := []string{"user:1", "line\nbreak", "sku:ü-😀", "bin:\x00\xff"}
	if err := p.Send(context.Background(), &event.Batch{Seq: 7, Keys: keys, Sets: []event.Set{{Key: "product:𝄞", JSON: []byte("{}")}}}); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := `"user:1"` + "\n" + `"line\nbreak"` + "\n" + `"sku:ü-😀"` + "\n" + `"bin:\x00\xff"` + "\n" + `"product:𝄞"` + "\n"
	if out.String() != want {
		t.Fatalf("printed %q, want %q", out.String(), want)
	}
	if len(acked) != 1 || acked[0] != 7 || p.Printed() != 5 {
		t.Fatalf("acked %v, printed %d; want [7] and 5 (a set key too)", acked, p.Printed())
	}
}
