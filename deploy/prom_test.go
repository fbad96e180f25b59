package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freeAddr returns a free 127.0.0.1 port, as host:port.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startProcess runs cmd with its output in a file of dir, and stops it by
// its PID (SIGTERM, then SIGKILL after 20 s) when the test ends.
func startProcess(t *testing.T, cmd *exec.Cmd, dir, name string) (logPath string) {
	t.Helper()
	logPath = filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return logPath
}

// waitHTTP polls url until it answers 200, at most limit.
func waitHTTP(t *testing.T, u string, limit time.Duration, logPath string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("%s did not answer 200 within %v (%v); log:\n%s", u, limit, err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startPrometheus runs Debian's prometheus on loopback with a temp data
// dir, scraping target every 200 ms as job "cachesync" and evaluating
// rules at the same pace. It returns the base URL of its HTTP API.
func startPrometheus(t *testing.T, rules string, targets ...string) string {
	t.Helper()
	bin := lookTool(t, "prometheus")
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global: {scrape_interval: 200ms, scrape_timeout: 200ms, evaluation_interval: 200ms}
rule_files: [%q]
scrape_configs:
  - job_name: cachesync
    static_configs: [{targets: [%s]}]
`, rules, quoteAll(targets))
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	logPath := startProcess(t, exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn"), dir, "prometheus")
	base := "http://" + addr
	waitHTTP(t, base+"/-/ready", 30*time.Second, logPath)
	return base
}

// promResult is an answer of the Prometheus HTTP API.
type promResult struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
		} `json:"result"`
		Alerts []struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		} `json:"alerts"`
		Groups []struct {
			Rules []struct {
				Name      string `json:"name"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"data"`
}

func promGet(t *testing.T, u string) promResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r promResult
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("%s: %v", u, err)
	}
	return r
}

// query evaluates expr now: the number of series, or the error Prometheus
// gives (a syntax or type error).
func query(t *testing.T, base, expr string) (int, string) {
	t.Helper()
	r := promGet(t, base+"/api/v1/query?query="+url.QueryEscape(expr))
	if r.Status != "success" {
		return 0, r.Error
	}
	return len(r.Data.Result), ""
}

// waitScrapes waits until Prometheus holds n samples of up for the job
// (n scrapes), at most limit.
func waitScrapes(t *testing.T, base string, n int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	q := `count_over_time(up{job="cachesync"}[5m]) >= ` + strconv.Itoa(n)
	for {
		if got, _ := query(t, base, q); got > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus did not make %d scrapes within %v", n, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// quoteAll writes targets as a YAML flow list's items.
func quoteAll(targets []string) string {
	q := make([]string, len(targets))
	for i, t := range targets {
		q[i] = strconv.Quote(t)
	}
	return strings.Join(q, ", ")
}
