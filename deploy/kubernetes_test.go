package deploy

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
)

// serviceMonitor is the part of the Prometheus Operator's CRD the
// manifest uses (monitoring.coreos.com/v1), not in k8s.io/api; decoded
// strictly like the others, a field it does not name is an error.
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

// DeepCopyObject makes it a runtime.Object; the test never mutates one.
func (s *serviceMonitor) DeepCopyObject() runtime.Object { c := *s; return &c }

// kustomization is kustomize's file (kustomize.config.k8s.io/v1beta1),
// the one field it uses.
type kustomization struct {
	metav1.TypeMeta `json:",inline"`
	Resources       []string `json:"resources"`
}

func (k *kustomization) DeepCopyObject() runtime.Object { c := *k; return &c }

// manifests holds every object of deploy/kubernetes, decoded strictly
// into its type.
type manifests struct {
	deployments []*appsv1.Deployment
	configMaps  []*corev1.ConfigMap
	secrets     []*corev1.Secret
	services    []*corev1.Service
	pdbs        []*policyv1.PodDisruptionBudget
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	monitors    []*serviceMonitor
	kustomize   *kustomization
	files       []string
}

// strictDecoder decodes YAML the way the API server's strict field
// validation does (apimachinery's serializer with EnableStrict): an
// unknown field, a field spelt in another case, or a duplicate field is an
// error, not silently dropped. Offline: the types are the schema.
func strictDecoder(t *testing.T) runtime.Decoder {
	t.Helper()
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{appsv1.AddToScheme, corev1.AddToScheme, policyv1.AddToScheme, autoscalingv2.AddToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	s.AddKnownTypeWithName(schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitor"}, &serviceMonitor{})
	s.AddKnownTypeWithName(schema.GroupVersionKind{Group: "kustomize.config.k8s.io", Version: "v1beta1", Kind: "Kustomization"}, &kustomization{})
	return serializer.NewCodecFactory(s, serializer.EnableStrict).UniversalDeserializer()
}

func readManifests(t *testing.T, dir string) *manifests {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no manifests in %s (%v)", dir, err)
	}
	dec := strictDecoder(t)
	m := &manifests{}
	for _, p := range paths {
		m.files = append(m.files, filepath.Base(p))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
			if err := m.add(dec, []byte(doc)); err != nil {
				t.Errorf("%s, document %d: %v", filepath.Base(p), i+1, err)
			}
		}
	}
	return m
}

func (m *manifests) add(dec runtime.Decoder, doc []byte) error {
	obj, gvk, err := dec.Decode(doc, nil, nil)
	if err != nil {
		return err
	}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		m.deployments = append(m.deployments, o)
	case *corev1.ConfigMap:
		m.configMaps = append(m.configMaps, o)
	case *corev1.Secret:
		m.secrets = append(m.secrets, o)
	case *corev1.Service:
		m.services = append(m.services, o)
	case *policyv1.PodDisruptionBudget:
		m.pdbs = append(m.pdbs, o)
	case *autoscalingv2.HorizontalPodAutoscaler:
		m.hpas = append(m.hpas, o)
	case *serviceMonitor:
		m.monitors = append(m.monitors, o)
	case *kustomization:
		m.kustomize = o
	default:
		return fmt.Errorf("%s: not a kind this test checks; add it to manifests.add", gvk)
	}
	return nil
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
