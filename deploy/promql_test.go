package deploy

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/cachesync/cachesync/metrics"
	"github.com/cachesync/cachesync/pipeline"
)

// selector is one vector selector of a PromQL expression: a metric name and
// the label names its matchers use.
type selector struct {
	text   string // as written, e.g. cachesync_leader{job="cachesync"}
	name   string
	labels []string
}

// notSeries are the identifiers of PromQL that name no series when they are
// not followed by "(": keywords, and aggregators written "sum by (x) (...)".
var notSeries = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "inf": true, "nan": true,
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"sum": true, "min": true, "max": true, "avg": true, "count": true, "group": true, "stddev": true,
	"stdvar": true, "topk": true, "bottomk": true, "quantile": true, "count_values": true,
}

// labelLists are the keywords followed by a list of label names.
var labelLists = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

// selectors returns the vector selectors of expr. It reads the subset of
// PromQL that deploy/ uses (no @ modifiers, no selectors without a name)
// and reports what it cannot read.
func selectors(t *testing.T, expr string) []selector {
	t.Helper()
	var out []selector
	s := expr
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(s, i)
		case c == '[':
			i = skipTo(s, i, ']')
		case c == '{':
			t.Fatalf("%q: a selector without a metric name at %d", expr, i)
		case isDigit(c):
			for i < len(s) && (isIdent(s[i]) || s[i] == '.') {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			word, k := s[i:j], skipSpace(s, j)
			switch {
			case k < len(s) && s[k] == '(' && labelLists[word]:
				i = skipTo(s, k, ')')
			case k < len(s) && s[k] == '(', notSeries[word]:
				i = j
			default:
				sel := selector{name: word, text: word}
				if k < len(s) && s[k] == '{' {
					end := skipTo(s, k, '}')
					sel.text = word + s[k:end]
					sel.labels = matcherNames(s[k+1 : end-1])
					j = end
				}
				out = append(out, sel)
				i = j
			}
		default:
			i++
		}
	}
	return out
}

var matcherRE = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)`)

// matcherNames returns the label names of the matchers in body (the text
// between the braces).
func matcherNames(body string) []string {
	var names []string
	for i := 0; i < len(body); {
		if m := matcherRE.FindStringSubmatch(body[i:]); m != nil {
			names = append(names, m[1])
			i += len(m[0])
			for i < len(body) && body[i] != '"' && body[i] != '\'' {
				i++
			}
			i = skipString(body, i)
			continue
		}
		i++
	}
	return names
}

func skipString(s string, i int) int {
	if i >= len(s) {
		return i
	}
	q := s[i]
	for i++; i < len(s) && s[i] != q; i++ {
		if s[i] == '\\' && q != '`' {
			i++
		}
	}
	return i + 1
}

// skipTo returns the index after the close that ends the bracket at open,
// stepping over strings.
func skipTo(s string, open int, close byte) int {
	for i := open + 1; i < len(s); i++ {
		switch s[i] {
		case '"', '\'', '`':
			i = skipString(s, i) - 1
		case close:
			return i + 1
		}
	}
	return len(s)
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t') {
		i++
	}
	return i
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
func isIdent(c byte) bool { return isIdentStart(c) || isDigit(c) }

func TestSelectors(t *testing.T) {
	got := selectors(t, `sum by (job, le) (rate(a_total{job="x",phase=~"f|s"}[5m])) > 0 and on (instance) b{q="}"} == 1 or histogram_quantile(0.99, c_bucket) unless d offset 5m`)
	var texts []string
	for _, s := range got {
		texts = append(texts, s.text+" "+strings.Join(s.labels, ","))
	}
	want := []string{`a_total{job="x",phase=~"f|s"} job,phase`, `b{q="}"} q`, "c_bucket ", "d "}
	if !slices.Equal(texts, want) {
		t.Fatalf("selectors:\n got %q\nwant %q", texts, want)
	}
}

// exported returns every metric name cachesync's registry describes (as in
// cmd/cachesync: its metrics, cachesync_ready, the Go and process
// collectors), histograms with their series suffixes, each with its
// variable label names. Vectors without children are not in a scrape; this
// is how the names of those are checked.
func exported(t *testing.T) map[string][]string {
	t.Helper()
	r := &descRecorder{t: t, names: map[string][]string{}}
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics.New(r)
	metrics.NewObserver(r) // cachesync observe's
	pipeline.NewHealth(nil, r)
	return r.names
}

type descRecorder struct {
	t     *testing.T
	names map[string][]string
}

var descRE = regexp.MustCompile(`^Desc\{fqName: "([^"]+)".*variableLabels: \{([^}]*)\}\}$`)

func (r *descRecorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		m := descRE.FindStringSubmatch(d.String())
		if m == nil {
			r.t.Fatalf("cannot read %s", d)
		}
		var labels []string
		if m[2] != "" {
			labels = strings.Split(m[2], ",")
		}
		for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
			r.names[m[1]+suffix] = labels
		}
	}
	return nil
}

func (r *descRecorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = r.Register(c)
	}
}

func (r *descRecorder) Unregister(prometheus.Collector) bool { return false }
