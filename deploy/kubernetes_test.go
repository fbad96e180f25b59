package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// serviceMonitor is the part of the Prometheus Operator's CRD the
// manifest uses (monitoring.coreos.com/v1); decoded strictly, a field it
// does not name is an error.
type serviceMonitor struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		JobLabel  string               `json:"jobLabel"`
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
	} `json:"spec"`
}

type kustomization struct {
	metav1.TypeMeta `json:",inline"`
	Resources       []string `json:"resources"`
}

// manifests holds every object of deploy/kubernetes, decoded strictly
// into its type.
type manifests struct {
	deployments []*appsv1.Deployment
	configMaps  []*corev1.ConfigMap
	secrets     []*corev1.Secret
	services    []*corev1.Service
	pdbs        []*policyv1.PodDisruptionBudget
	monitors    []*serviceMonitor
	kustomize   *kustomization
	files       []string
}

// strict decodes one YAML document into v as the API server reads JSON:
// an unknown or misspelt field is an error, not silently dropped.
func strict(doc []byte, v any) error {
	var tree any
	if err := yaml.Unmarshal(doc, &tree); err != nil {
		return err
	}
	j, err := json.Marshal(tree)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func readManifests(t *testing.T, dir string) *manifests {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no manifests in %s (%v)", dir, err)
	}
	m := &manifests{}
	for _, p := range paths {
		m.files = append(m.files, filepath.Base(p))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
			if err := m.add([]byte(doc)); err != nil {
				t.Errorf("%s, document %d: %v", filepath.Base(p), i+1, err)
			}
		}
	}
	return m
}

func (m *manifests) add(doc []byte) error {
	var tm struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
	}
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	into := func(v any) error { return strict(doc, v) }
	switch tm.APIVersion + " " + tm.Kind {
	case "apps/v1 Deployment":
		d := &appsv1.Deployment{}
		m.deployments = append(m.deployments, d)
		return into(d)
	case "v1 ConfigMap":
		c := &corev1.ConfigMap{}
		m.configMaps = append(m.configMaps, c)
		return into(c)
	case "v1 Secret":
		s := &corev1.Secret{}
		m.secrets = append(m.secrets, s)
		return into(s)
	case "v1 Service":
		s := &corev1.Service{}
		m.services = append(m.services, s)
		return into(s)
	case "policy/v1 PodDisruptionBudget":
		p := &policyv1.PodDisruptionBudget{}
		m.pdbs = append(m.pdbs, p)
		return into(p)
	case "monitoring.coreos.com/v1 ServiceMonitor":
		s := &serviceMonitor{}
		m.monitors = append(m.monitors, s)
		return into(s)
	case "kustomize.config.k8s.io/v1beta1 Kustomization":
		m.kustomize = &kustomization{}
		return into(m.kustomize)
	}
	return fmt.Errorf("apiVersion %q kind %q: not a kind this test knows; add it to manifests.add", tm.APIVersion, tm.Kind)
}

// selects reports whether sel selects pods labelled podLabels.
func selects(t *testing.T, sel *metav1.LabelSelector, podLabels map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatal(err)
	}
	return !s.Empty() && s.Matches(labels.Set(podLabels))
}

func httpPort(t *testing.T, addr string) (host, port string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("http.addr %q: %v", addr, err)
	}
	return host, port
}

func component(d *appsv1.Deployment) string {
	return d.Spec.Template.Labels["app.kubernetes.io/component"]
}

func roleArg(c corev1.Container) string {
	for i, a := range c.Args {
		if a == "--role" && i+1 < len(c.Args) {
			return c.Args[i+1]
		}
	}
	return "all"
}

func configArg(c corev1.Container) string {
	for i, a := range c.Args {
		if a == "--config" && i+1 < len(c.Args) {
			return c.Args[i+1]
		}
	}
	return ""
}
