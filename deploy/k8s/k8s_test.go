// Package k8s holds the Kubernetes manifests; this test decodes them with
// the Kubernetes API types, so a typo in a field name or a wrong type
// fails here instead of at kubectl apply.
package k8s

import (
	"bytes"
	"os"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

func TestManifestsDecode(t *testing.T) {
	data, err := os.ReadFile("vigil.yaml")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		var meta struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatalf("reading a document's kind: %v", err)
		}
		var obj any
		switch meta.Kind {
		case "Service":
			obj = &corev1.Service{}
		case "StatefulSet":
			obj = &appsv1.StatefulSet{}
		case "PodDisruptionBudget":
			obj = &policyv1.PodDisruptionBudget{}
		default:
			t.Fatalf("unexpected kind %q", meta.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Fatalf("%s: %v", meta.Kind, err)
		}
		kinds[meta.Kind]++
		if ss, ok := obj.(*appsv1.StatefulSet); ok {
			if ss.Spec.Replicas == nil || *ss.Spec.Replicas != 3 {
				t.Errorf("StatefulSet %s: want 3 replicas", ss.Name)
			}
			if ss.Spec.ServiceName == "" {
				t.Errorf("StatefulSet %s: no headless service, so no stable hostnames", ss.Name)
			}
			args := strings.Join(ss.Spec.Template.Spec.Containers[0].Args, " ")
			if ss.Name == "vigil-sentinel" && !strings.Contains(args, "--monitor mymaster vigil-0.vigil 6379 2") {
				t.Errorf("sentinels do not monitor vigil-0: %s", args)
			}
		}
		if svc, ok := obj.(*corev1.Service); ok && svc.Spec.ClusterIP != "None" {
			t.Errorf("Service %s is not headless", svc.Name)
		}
	}
	if kinds["StatefulSet"] != 2 || kinds["Service"] != 2 || kinds["PodDisruptionBudget"] != 2 {
		t.Errorf("kinds %v", kinds)
	}
}
