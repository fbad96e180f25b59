package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// TestRefusesBadInput: every bad flag is a usage error (exit 2) that names
// it, before anything connects; servers off loopback are refused, since
// the run drops its table and flushes Redis.
func TestRefusesBadInput(t *testing.T) {
	ok := []string{"-mysql", "127.0.0.1:3306", "-redis", "127.0.0.1:6379"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-mysql", "10.0.0.5:3306", "-redis", "127.0.0.1:6379"}, "127.0.0.0/8"},
		{[]string{"-mysql", "127.0.0.1:3306", "-redis", "db.example:6379"}, "127.0.0.0/8"},
		{[]string{"-mysql", "", "-redis", "127.0.0.1:6379"}, "-mysql is required"},
		{append(ok, "-modes", "app-delete,triple"), `mode "triple"`},
		{append(ok, "-pause", "90%:1ms-x"), `"x"`},
		{append(ok, "-readers", "0"), "readers (0)"},
		{append(ok, "-duration", "0s"), "duration (0s)"},
		{append(ok, "extra"), "unexpected arguments"},
		{append(ok, "-no-such-flag"), "not defined"},
	} {
		var out, errb bytes.Buffer
		err := run(context.Background(), tc.args, &out, &errb)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error()+errb.String(), tc.want) {
			t.Errorf("%v: got %v (stderr %q), want a usage error naming %q", tc.args, err, errb.String(), tc.want)
		}
		if out.Len() > 0 {
			t.Errorf("%v: printed a report: %s", tc.args, out.String())
		}
	}
}
