// Command cachesync keeps Redis caches consistent with MySQL by following the
// binlog and deleting the keys each committed row change feeds.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `cachesync keeps Redis caches consistent with MySQL.

Usage:
  cachesync run --config FILE [--role all|tailer|consumer|flusher] [--log-format json|console] [--log-level info]
  cachesync config check --config FILE [--online]
  cachesync replay --config FILE --from X [--to Y] [--tables db.t,...] [--dry-run] [--direct]
  cachesync backfill --config FILE --table db.t [--where SQL] [--chunk N] [--rate N] [--resume] [--dry-run]
  cachesync observe --config FILE [--report] [--for 10m]   measure how consistent the cache is (read-only)
  cachesync ready [--addr 127.0.0.1:9180]      exit 0 when the running cachesync's /readyz says ready
  cachesync version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// exitError carries a specific exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	// The first SIGINT/SIGTERM asks for a graceful stop; a second one stops
	// at once (the hard context ends, unfinished work stays unacknowledged).
	hard, hardStop := context.WithCancel(context.Background())
	defer hardStop()
	soft, softStop := context.WithCancel(hard)
	defer softStop()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		select {
		case <-sigs:
		case <-hard.Done():
			return
		}
		softStop()
		select {
		case <-sigs:
			fmt.Fprintln(stderr, "cachesync: second signal, exiting at once")
			os.Exit(130)
		case <-hard.Done():
		}
	}()

	var err error
	switch args[0] {
	case "run":
		err = cmdRun(soft, hard, args[1:], stderr)
	case "replay":
		err = oneShot(soft, hard, args[1:], stdout, stderr, parseReplayFlags)
	case "backfill":
		err = oneShot(soft, hard, args[1:], stdout, stderr, parseBackfillFlags)
	case "config":
		if len(args) < 2 || args[1] != "check" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		err = cmdCheck(soft, args[2:], stdout)
	case "ready":
		err = cmdReady(soft, args[1:], stdout)
	case "observe":
		err = cmdObserve(soft, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "cachesync", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "cachesync: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, errHelp) {
		return 0 // the usage is printed
	}
	if err != nil {
		fmt.Fprintf(stderr, "cachesync: %v\n", err)
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	return 0
}
