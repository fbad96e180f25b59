package canal

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/schema"

	"github.com/cachesync/cachesync/checkpoint"
	"github.com/cachesync/cachesync/event"
)

// SchemaHistory remembers, per mapped table, the schemas the tailer used and
// the binlog position from which each applied. go-mysql canal reads a
// table's schema from the live server, which is wrong for rows written
// before a later DDL: after a restart from a checkpoint that predates a
// migration, the rows between the checkpoint and the DDL would be decoded
// with the new columns. Seeding canal with the schema in force at the
// checkpoint fixes that; canal drops the seed itself when it reaches the DDL.
//
// It keeps a few versions per table (enough for the checkpoint's lag, which
// is a fraction of a second), in a JSON file written atomically whenever a
// new version is recorded — before any row decoded with it is emitted.
type SchemaHistory struct {
	store checkpoint.Blob
	mu    sync.Mutex
	data  map[string][]schemaVersion // db.table → versions, oldest first
}

type schemaVersion struct {
	Since  event.Position `json:"since"`
	Schema *schema.Table  `json:"schema"`
}

// historyDepth bounds the versions kept per table.
const historyDepth = 4

// LoadSchemaHistory reads the file at path; see OpenSchemaHistory.
func LoadSchemaHistory(path string) (*SchemaHistory, error) {
	return OpenSchemaHistory(context.Background(), checkpoint.FileBlob{Path: path})
}

// OpenSchemaHistory reads the history from store; nothing saved is an empty
// history. Bytes that cannot be read are an error, like a bad checkpoint.
func OpenSchemaHistory(ctx context.Context, store checkpoint.Blob) (*SchemaHistory, error) {
	h := &SchemaHistory{store: store, data: map[string][]schemaVersion{}}
	raw, err := store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("schema history %s: %w", store, err)
	}
	if raw == nil {
		return h, nil
	}
	if err := json.Unmarshal(raw, &h.data); err != nil {
		return nil, fmt.Errorf("schema history %s is corrupt: %v (delete it: rows older than a recent DDL may then be decoded with the current schema)", store, err)
	}
	for _, vs := range h.data { // older versions of cachesync kept them in arrival order
		slices.SortStableFunc(vs, func(a, b schemaVersion) int { return compareSince(a.Since, b.Since) })
	}
	return h, nil
}

// At returns the schema of table in force at pos, or nil if none is known.
func (h *SchemaHistory) At(table string, pos event.Position) *schema.Table {
	h.mu.Lock()
	defer h.mu.Unlock()
	var found *schema.Table
	for _, v := range h.data[table] { // in position order
		if compareSince(v.Since, pos) <= 0 {
			found = v.Schema
		}
	}
	return found
}

// Latest returns the newest recorded schema of table, nil if none.
func (h *SchemaHistory) Latest(table string) *schema.Table {
	h.mu.Lock()
	defer h.mu.Unlock()
	if vs := h.data[table]; len(vs) > 0 {
		return vs[len(vs)-1].Schema
	}
	return nil
}

// Tables lists the tables with a recorded schema.
func (h *SchemaHistory) Tables() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.data))
	for t := range h.data {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Record notes that t applies from since on (until the next recorded
// version), and saves the history. Versions are kept in position order
// whatever order they are recorded in (a restart from an older checkpoint
// records again); one recorded at a position already known replaces it, and
// one equal to the version in force before it adds nothing.
func (h *SchemaHistory) Record(ctx context.Context, table string, since event.Position, t *schema.Table) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	vs := h.data[table]
	i := len(vs) // a handful of versions: a linear search, which tolerates GTID sets no order relates
	for i > 0 && compareSince(vs[i-1].Since, since) > 0 {
		i--
	}
	found := i > 0 && compareSince(vs[i-1].Since, since) == 0
	if found {
		i--
	}
	switch {
	case found && sameColumns(vs[i].Schema, t):
		return nil
	case found:
		vs[i].Schema = t
	case i > 0 && sameColumns(vs[i-1].Schema, t):
		return nil
	default:
		vs = slices.Insert(vs, i, schemaVersion{Since: since, Schema: t})
	}
	if i+1 < len(vs) && sameColumns(vs[i+1].Schema, t) {
		vs = slices.Delete(vs, i+1, i+2) // it applies from here on already
	}
	if len(vs) > historyDepth {
		vs = vs[len(vs)-historyDepth:]
	}
	h.data[table] = vs
	return h.save(ctx)
}

func (h *SchemaHistory) save(ctx context.Context) error {
	raw, err := json.Marshal(h.data)
	if err != nil {
		return err
	}
	if err := h.store.Save(ctx, raw); err != nil {
		return fmt.Errorf("schema history %s: %w", h.store, err)
	}
	return nil
}

func sameColumns(a, b *schema.Table) bool {
	if len(a.Columns) != len(b.Columns) {
		return false
	}
	for i := range a.Columns {
		x, y := a.Columns[i], b.Columns[i]
		if x.Name != y.Name || x.RawType != y.RawType || x.Collation != y.Collation || x.IsUnsigned != y.IsUnsigned {
			return false
		}
	}
	return true
}

// compareSince orders history positions. With GTID sets on both (a tailer
// in GTID mode) the sets decide: they stay comparable across a failover,
// where the file/offset of the old and the new primary are not. Otherwise,
// or when neither set contains the other, file and offset decide.
func compareSince(a, b event.Position) int {
	if a.GTID != "" && b.GTID != "" {
		if c, ok := compareGTIDSets(a.GTID, b.GTID); ok {
			return c
		}
	}
	return a.Compare(b)
}

func compareGTIDSets(a, b string) (int, bool) {
	flavor := mysql.MariaDBFlavor
	if strings.Contains(a, ":") {
		flavor = mysql.MySQLFlavor
	}
	sa, err := mysql.ParseGTIDSet(flavor, a)
	if err != nil {
		return 0, false
	}
	sb, err := mysql.ParseGTIDSet(flavor, b)
	if err != nil {
		return 0, false
	}
	aInB, bInA := sb.Contain(sa), sa.Contain(sb)
	switch {
	case aInB && bInA:
		return 0, true
	case aInB:
		return -1, true
	case bInA:
		return 1, true
	}
	return 0, false
}
