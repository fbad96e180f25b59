package backfill

import (
	"bytes"
	"time"
)

// inZone renders a TIMESTAMP value the scan read in UTC ("2026-11-26
// 10:34:56.789") in loc, with the same digits, as go-mysql's binlog decoder
// renders it for the tailer (time.In(loc), then the column's fractional
// digits): both paths hand the renderer the same text, the text SELECT
// shows in that zone. The zero value and anything unparsable stay as read.
func inZone(s []byte, loc *time.Location) []byte {
	if loc == nil || loc == time.UTC || len(s) < len("2006-01-02 15:04:05") || bytes.HasPrefix(s, []byte("0000-00-00")) {
		return s
	}
	t, err := time.ParseInLocation("2006-01-02 15:04:05", string(s), time.UTC) // a fraction is accepted
	if err != nil {
		return s
	}
	layout := []byte("2006-01-02 15:04:05")
	if dot := bytes.IndexByte(s, '.'); dot >= 0 {
		layout = append(append(layout, '.'), bytes.Repeat([]byte("0"), len(s)-dot-1)...)
	}
	return t.In(loc).AppendFormat(nil, string(layout))
}
