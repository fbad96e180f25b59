package event

import (
	"fmt"
	"strconv"
	"strings"
)

// TrxGTID is one transaction's GTID, reduced to what orders it on a
// replica: the MariaDB replication domain (decimal) or the MySQL server
// uuid, and the sequence number within it. MariaDB's server id is left
// out: a replica orders a domain by sequence number alone.
type TrxGTID struct {
	Domain string
	Seq    uint64
}

func (g TrxGTID) mysql() bool { return strings.Contains(g.Domain, "-") }

// String writes the GTID back in its flavour's form, with MariaDB's
// server id as 0 (it does not take part in ordering).
func (g TrxGTID) String() string {
	if g.mysql() {
		return g.Domain + ":" + strconv.FormatUint(g.Seq, 10)
	}
	return g.Domain + "-0-" + strconv.FormatUint(g.Seq, 10)
}

// ParseTrxGTIDs reads Batch.GTID: a comma-separated list of MariaDB
// domain-server-seq or MySQL uuid:n GTIDs; "" is none.
func ParseTrxGTIDs(s string) ([]TrxGTID, error) {
	var out []TrxGTID
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		g, err := parseTrxGTID(f)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

func parseTrxGTID(f string) (TrxGTID, error) {
	if uuid, n, ok := strings.Cut(f, ":"); ok {
		seq, err := strconv.ParseUint(n, 10, 64)
		if err != nil || len(uuid) != 36 || seq == 0 {
			return TrxGTID{}, fmt.Errorf("GTID %q is not uuid:n", f)
		}
		return TrxGTID{Domain: strings.ToLower(uuid), Seq: seq}, nil
	}
	parts := strings.Split(f, "-")
	if len(parts) != 3 {
		return TrxGTID{}, fmt.Errorf("GTID %q is neither MariaDB domain-server-seq nor MySQL uuid:n", f)
	}
	for _, p := range parts[:2] {
		if _, err := strconv.ParseUint(p, 10, 32); err != nil {
			return TrxGTID{}, fmt.Errorf("GTID %q is not domain-server-seq", f)
		}
	}
	seq, err := strconv.ParseUint(parts[2], 10, 64)
	if err != nil {
		return TrxGTID{}, fmt.Errorf("GTID %q is not domain-server-seq", f)
	}
	d, _ := strconv.ParseUint(parts[0], 10, 32)
	return TrxGTID{Domain: strconv.FormatUint(d, 10), Seq: seq}, nil
}

// MergeTrxGTIDs returns the list of a and b keeping, per domain or server
// uuid, the highest sequence number: the GTIDs a replica that applies in
// order must have applied to have applied both. Unparsable input is kept
// as it is (the waiter reports it).
func MergeTrxGTIDs(a, b string) string {
	switch {
	case a == "" || a == b:
		return b
	case b == "":
		return a
	}
	ga, errA := ParseTrxGTIDs(a)
	gb, errB := ParseTrxGTIDs(b)
	if errA != nil || errB != nil {
		return a + "," + b
	}
	out := ga
next:
	for _, g := range gb {
		for i := range out {
			if out[i].Domain == g.Domain {
				out[i].Seq = max(out[i].Seq, g.Seq)
				continue next
			}
		}
		out = append(out, g)
	}
	parts := make([]string, len(out))
	for i, g := range out {
		parts[i] = g.String()
	}
	return strings.Join(parts, ",")
}
