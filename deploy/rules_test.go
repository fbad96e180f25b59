package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/cachesync/cachesync/internal/testenv"
)

// lookTool finds a program Debian's prometheus package installs; a missing
// one skips the test, or fails it under CACHESYNC_REQUIRE_SERVICES=1.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := name + " not found: install it with scripts/deps.sh (apt-get install prometheus)"
	if testenv.RequireServices() {
		t.Fatalf("%s [%s=1, so this is a failure, not a skip]", msg, testenv.EnvRequire)
	}
	t.Skip(msg)
	return ""
}

// ruleFile is the part of a Prometheus rules file these tests read.
type ruleFile struct {
	Groups []struct {
		Rules []alertRule `yaml:"rules"`
	} `yaml:"groups"`
}

type alertRule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func loadAlerts(t *testing.T) []alertRule {
	t.Helper()
	var f ruleFile
	readYAML(t, filepath.Join("prometheus", "alerts.yml"), &f)
	var out []alertRule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) == 0 {
		t.Fatal("prometheus/alerts.yml holds no rules")
	}
	return out
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestAlertRules runs promtool over the rules and their unit tests, then
// checks what promtool does not: every alert says what to do, is tested
// both firing and quiet, and is in the README's Deploy table.
func TestAlertRules(t *testing.T) {
	promtool := lookTool(t, "promtool")
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	readYAML(t, filepath.Join("prometheus", "alerts_test.yml"), &tests)
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, e := range tc.AlertRuleTest {
			if len(e.ExpAlerts) > 0 {
				fires[e.Alertname] = true
			} else {
				quiet[e.Alertname] = true
			}
		}
	}
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range loadAlerts(t) {
		switch {
		case r.Annotations["runbook"] == "" || r.Annotations["summary"] == "":
			t.Errorf("%s: want a summary and a runbook annotation", r.Alert)
		case r.Labels["severity"] != "critical" && r.Labels["severity"] != "warning":
			t.Errorf("%s: severity %q, want critical or warning", r.Alert, r.Labels["severity"])
		}
		if !fires[r.Alert] || !quiet[r.Alert] {
			t.Errorf("%s: alerts_test.yml must evaluate it firing (%v) and quiet (%v)", r.Alert, fires[r.Alert], quiet[r.Alert])
		}
		if !strings.Contains(string(readme), "| `"+r.Alert+"` |") {
			t.Errorf("%s: not in the README's Deploy table (a row starting | `%s` |)", r.Alert, r.Alert)
		}
	}
}
