// Package deploy holds no code that runs: it is where the files for running
// cachesync with the tools operators already have live, and its tests check
// them. prometheus/alerts.yml holds the alerting rules (with promtool unit
// tests beside them), grafana/cachesync.json the dashboard, kubernetes/ the
// manifests. The tests run promtool, a real Prometheus scraping a running
// cachesync, and a strict decode of every manifest into its Kubernetes type.
package deploy
