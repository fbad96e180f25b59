// Package replicas knows how far each read replica has applied the
// primary's binlog, so that the deleter's second delete of a transaction
// (delete.second: replicas) goes out as soon as every replica has applied
// it: a reader that misses after that fills from a replica that has the new
// row. One poller per replica asks for its applied position every tick (one
// query covers every pending transaction): the executed GTID set with
// GTIDs, SHOW SLAVE STATUS's Relay_Master_Log_File/Exec_Master_Log_Pos
// without.
package replicas

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cachesync/cachesync/event"
)

// interval is a closed range of sequence numbers.
type interval struct{ lo, hi uint64 }

// Executed is a replica's executed GTID set: per MariaDB domain or MySQL
// server uuid, the sequence numbers applied. MariaDB keeps one GTID per
// domain (the last applied, in order), read as 1..seq.
type Executed map[string][]interval

// ParseExecuted reads MariaDB's @@gtid_slave_pos ("0-1-5,1-2-9") or
// MySQL's @@gtid_executed ("uuid:1-5:7-9,\nuuid2:1-3"); "" is the empty set.
func ParseExecuted(s string) (Executed, error) {
	e := Executed{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, ":") {
			g, err := event.ParseTrxGTIDs(f)
			if err != nil {
				return nil, fmt.Errorf("executed GTID set %q: %w", s, err)
			}
			e[g[0].Domain] = append(e[g[0].Domain], interval{1, g[0].Seq})
			continue
		}
		parts := strings.Split(f, ":")
		uuid := strings.ToLower(parts[0])
		if len(uuid) != 36 {
			return nil, fmt.Errorf("executed GTID set %q: %q is not a server uuid", s, parts[0])
		}
		tagged := false
		for _, r := range parts[1:] {
			if r != "" && (r[0] < '0' || r[0] > '9') {
				// MySQL 8.4 tagged GTIDs (uuid:tag:n...): the ranges after a
				// tag are the tag's; binlog GTIDs cachesync waits for are
				// untagged.
				tagged = true
				continue
			}
			iv, err := parseInterval(r)
			if err != nil {
				return nil, fmt.Errorf("executed GTID set %q: %w", s, err)
			}
			if !tagged {
				e[uuid] = append(e[uuid], iv)
			}
		}
	}
	return e, nil
}

func parseInterval(r string) (interval, error) {
	lo, hi, isRange := strings.Cut(r, "-")
	a, err := strconv.ParseUint(lo, 10, 64)
	if err != nil {
		return interval{}, fmt.Errorf("%q is not a sequence number or range", r)
	}
	if !isRange {
		return interval{a, a}, nil
	}
	b, err := strconv.ParseUint(hi, 10, 64)
	if err != nil || b < a {
		return interval{}, fmt.Errorf("%q is not a sequence number range", r)
	}
	return interval{a, b}, nil
}

// Contains reports whether the replica has applied g.
func (e Executed) Contains(g event.TrxGTID) bool {
	for _, iv := range e[g.Domain] {
		if g.Seq >= iv.lo && g.Seq <= iv.hi {
			return true
		}
	}
	return false
}

// ContainsAll reports whether the replica has applied every one of gs.
func (e Executed) ContainsAll(gs []event.TrxGTID) bool {
	for _, g := range gs {
		if !e.Contains(g) {
			return false
		}
	}
	return true
}
