package deploy

import (
	"net"
	"path"
	"slices"
	"strconv"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/pipeline"
)

// minMemory is the peak RSS BENCHMARKS.md measured for a role: the memory
// request must not be below it.
var minMemory = map[string]string{
	"tailer":   "110Mi", // a 1,000,000-row transaction on the Kafka transport
	"consumer": "54Mi",  // a whole Kafka-transport process in a write burst
	"flusher":  "54Mi",  // not measured alone: as the consumer
}

// TestKubernetesManifests decodes every manifest of deploy/kubernetes
// strictly into its k8s.io/api type (offline: no cluster, no OpenAPI
// schema) and checks that the parts fit together: the config loads and
// validates with the variables the pods get, probes and the metrics port
// are http.addr's, selectors select the pods they are meant to and no
// others, and each role has what it needs.
func TestKubernetesManifests(t *testing.T) {
	m := readManifests(t, "kubernetes")
	if len(m.deployments) != 3 || len(m.configMaps) != 1 || len(m.secrets) != 1 || len(m.services) != 1 ||
		len(m.pdbs) != 3 || len(m.hpas) != 1 || len(m.monitors) != 1 || m.kustomize == nil {
		t.Fatalf("want 3 Deployments, a ConfigMap, a Secret, a Service, 3 PodDisruptionBudgets, an autoscaler, a ServiceMonitor and a Kustomization; got %d, %d, %d, %d, %d, %d, %d, %v",
			len(m.deployments), len(m.configMaps), len(m.secrets), len(m.services), len(m.pdbs), len(m.hpas), len(m.monitors), m.kustomize != nil)
	}
	listed := slices.Sorted(slices.Values(append(m.kustomize.Resources, "kustomization.yaml")))
	if !slices.Equal(listed, m.files) {
		t.Errorf("kustomization.yaml lists %v; the directory holds %v", listed, m.files)
	}
	roles := map[string]bool{}
	image := m.deployments[0].Spec.Template.Spec.Containers[0].Image
	for _, d := range m.deployments {
		roles[component(d)] = true
		checkDeployment(t, m, d, image)
	}
	if len(roles) != 3 || !roles["tailer"] || !roles["consumer"] || !roles["flusher"] {
		t.Errorf("want one Deployment per role tailer, consumer, flusher; got %v", roles)
	}
	checkSelectors(t, m)
}

func checkDeployment(t *testing.T, m *manifests, d *appsv1.Deployment, image string) {
	t.Helper()
	name, pod := d.Name, d.Spec.Template.Spec
	if len(pod.Containers) != 1 || d.Spec.Replicas == nil {
		t.Fatalf("%s: want one container (got %d) and replicas written out", name, len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.Image != image || image == "" {
		t.Errorf("%s: image %q, want the same image as the others (%q)", name, c.Image, image)
	}
	role := roleArg(c)
	if err := pipeline.CheckRole(role); err != nil || role != component(d) {
		t.Errorf("%s: --role %q (%v), want its component label %q", name, role, err, component(d))
	}
	cfg := loadMountedConfig(t, m, d, c)
	if cfg == nil {
		return
	}
	host, port := httpPort(t, cfg.HTTP.Addr)
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		t.Errorf("%s: http.addr %s is loopback: probes and Prometheus reach the pod's IP", name, cfg.HTTP.Addr)
	}
	metrics := -1
	for _, p := range c.Ports {
		if p.Name == "metrics" {
			metrics = int(p.ContainerPort)
		}
	}
	if strconv.Itoa(metrics) != port {
		t.Errorf("%s: container port metrics is %d, http.addr's port is %s", name, metrics, port)
	}
	for _, pr := range []struct {
		what  string
		probe *corev1.Probe
		path  string
	}{{"livenessProbe", c.LivenessProbe, "/healthz"}, {"readinessProbe", c.ReadinessProbe, "/readyz"}} {
		if pr.probe == nil || pr.probe.HTTPGet == nil {
			t.Errorf("%s: no %s httpGet", name, pr.what)
			continue
		}
		if pr.probe.HTTPGet.Path != pr.path || !portIs(pr.probe.HTTPGet.Port, "metrics", metrics) {
			t.Errorf("%s: %s %s on port %s, want %s on metrics (%s)", name, pr.what, pr.probe.HTTPGet.Path, pr.probe.HTTPGet.Port.String(), pr.path, port)
		}
	}
	switch role {
	case pipeline.RoleTailer:
		if *d.Spec.Replicas > 1 && cfg.Checkpoint.Store != "redis" {
			t.Errorf("%s: %d replicas need checkpoint.store redis (the leader lease); it is %q", name, *d.Spec.Replicas, cfg.Checkpoint.Store)
		}
	case pipeline.RoleConsumer:
		if cfg.Transport.Kind != "kafka" {
			t.Errorf("%s: role consumer needs transport.kind kafka", name)
		}
		checkAutoscaler(t, m, d, cfg.Transport.Kafka.Partitions)
	case pipeline.RoleFlusher:
		if len(cfg.WriteBehindRules()) == 0 {
			t.Errorf("%s: role flusher needs a rule with write_behind", name)
		}
	}
	if grace := pod.TerminationGracePeriodSeconds; grace == nil || float64(*grace) <= cfg.Shutdown.Timeout.D().Seconds() {
		t.Errorf("%s: terminationGracePeriodSeconds must exceed shutdown.timeout (%s)", name, cfg.Shutdown.Timeout)
	}
	checkMemory(t, name, role, c)
}

// loadMountedConfig finds the ConfigMap the container's --config names
// through its volume mount, and loads it with the container's environment:
// plain values and the Secret's keys. A ${VAR} the pod does not get fails.
func loadMountedConfig(t *testing.T, m *manifests, d *appsv1.Deployment, c corev1.Container) *config.Config {
	t.Helper()
	file := configArg(c)
	var data string
	for _, vm := range c.VolumeMounts {
		if vm.MountPath != path.Dir(file) {
			continue
		}
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name == vm.Name && v.ConfigMap != nil {
				for _, cm := range m.configMaps {
					if cm.Name == v.ConfigMap.Name {
						data = cm.Data[path.Base(file)]
					}
				}
			}
		}
	}
	if data == "" {
		t.Errorf("%s: --config %s is not a key of a mounted ConfigMap", d.Name, file)
		return nil
	}
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			for _, s := range m.secrets {
				if v, ok := s.StringData[ref.Key]; ok && s.Name == ref.Name {
					env[e.Name] = v
				}
			}
			if _, ok := env[e.Name]; !ok {
				t.Errorf("%s: env %s names secret %s key %s, which the Secret does not have", d.Name, e.Name, ref.Name, ref.Key)
			}
		}
	}
	cfg, err := config.Parse([]byte(data), d.Name+":"+file, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Errorf("%s: the config does not load with the pod's environment:\n%v", d.Name, err)
		return nil
	}
	return cfg
}

func checkMemory(t *testing.T, name, role string, c corev1.Container) {
	t.Helper()
	req, lim := c.Resources.Requests[corev1.ResourceMemory], c.Resources.Limits[corev1.ResourceMemory]
	if req.Cmp(resource.MustParse(minMemory[role])) < 0 || lim.Cmp(req) < 0 {
		t.Errorf("%s: memory request %s, limit %s: want request ≥ %s (measured peak) and limit ≥ request", name, req.String(), lim.String(), minMemory[role])
	}
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			if q, err := resource.ParseQuantity(e.Value[:len(e.Value)-1]); err != nil || q.Cmp(lim) >= 0 {
				t.Errorf("%s: GOMEMLIMIT %s must be below the memory limit %s", name, e.Value, lim.String())
			}
		}
	}
}

func portIs(p intstr.IntOrString, name string, number int) bool {
	if p.Type == intstr.String {
		return p.StrVal == name
	}
	return p.IntValue() == number
}

// checkSelectors: each Deployment selects its own pods only, each PDB the
// pods of one Deployment, the Service every pod, and the ServiceMonitor the
// Service's metrics port as job "cachesync".
func checkSelectors(t *testing.T, m *manifests) {
	t.Helper()
	for _, d := range m.deployments {
		for _, other := range m.deployments {
			if got := selects(t, d.Spec.Selector, other.Spec.Template.Labels); got != (d == other) {
				t.Errorf("Deployment %s selects the pods of %s: %v", d.Name, other.Name, got)
			}
		}
		var covered []string
		for _, p := range m.pdbs {
			if selects(t, p.Spec.Selector, d.Spec.Template.Labels) {
				covered = append(covered, p.Name)
			}
		}
		if len(covered) != 1 {
			t.Errorf("Deployment %s: its pods are selected by PodDisruptionBudgets %v, want exactly one", d.Name, covered)
		}
		svc := m.services[0]
		if !selects(t, metav1LabelSelector(svc.Spec.Selector), d.Spec.Template.Labels) {
			t.Errorf("Service %s does not select the pods of %s", svc.Name, d.Name)
		}
	}
	svc, mon := m.services[0], m.monitors[0]
	var metricsPort *corev1.ServicePort
	for i, p := range svc.Spec.Ports {
		if p.Name == "metrics" {
			metricsPort = &svc.Spec.Ports[i]
		}
	}
	if metricsPort == nil || !portIs(metricsPort.TargetPort, "metrics", -1) {
		t.Fatalf("Service %s: want a port named metrics with targetPort metrics (the containers' port name)", svc.Name)
	}
	if !selects(t, &mon.Spec.Selector, svc.Labels) {
		t.Errorf("ServiceMonitor %s does not select Service %s", mon.Metadata.Name, svc.Name)
	}
	if job := svc.Labels[mon.Spec.JobLabel]; job != "cachesync" {
		t.Errorf("ServiceMonitor %s: jobLabel %q gives job %q; deploy/prometheus/alerts.yml expects job cachesync", mon.Metadata.Name, mon.Spec.JobLabel, job)
	}
	if len(mon.Spec.Endpoints) != 1 || mon.Spec.Endpoints[0].Port != metricsPort.Name || mon.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor %s: want one endpoint, port %s, path /metrics; got %+v", mon.Metadata.Name, metricsPort.Name, mon.Spec.Endpoints)
	}
}

func metav1LabelSelector(m map[string]string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: m}
}

// checkAutoscaler: the consumers' autoscaler targets their Deployment,
// starts at its replicas, and stops at the partition count (a consumer
// past it reads nothing); it needs a CPU request to compute utilization.
func checkAutoscaler(t *testing.T, m *manifests, d *appsv1.Deployment, partitions int) {
	t.Helper()
	h := m.hpas[0]
	ref := h.Spec.ScaleTargetRef
	if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || ref.Name != d.Name {
		t.Errorf("HorizontalPodAutoscaler %s scales %s %s, want Deployment %s", h.Name, ref.Kind, ref.Name, d.Name)
	}
	minReplicas := int32(1) // the API's default
	if h.Spec.MinReplicas != nil {
		minReplicas = *h.Spec.MinReplicas
	}
	if minReplicas != *d.Spec.Replicas || partitions > 0 && int(h.Spec.MaxReplicas) > partitions {
		t.Errorf("HorizontalPodAutoscaler %s: replicas %d..%d, want from the Deployment's %d up to the partition count %d", h.Name, minReplicas, h.Spec.MaxReplicas, *d.Spec.Replicas, partitions)
	}
	if _, ok := d.Spec.Template.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU]; !ok {
		t.Errorf("%s: an autoscaler on CPU needs a CPU request", d.Name)
	}
}
