package collect

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// validateKubernetes checks a "kubernetes" entry: which pods (namespaces,
// selector) and how their files are read (as file entries are). Container
// logs default to the CRI format the kubelet writes.
func validateKubernetes(e *Entry, fail func(field, format string, args ...any) error) error {
	for _, ns := range e.Namespaces {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return fail("namespaces", "%q is not a namespace name (%s): list names such as \"default\", \"web\"", ns, strings.Join(errs, "; "))
		}
	}
	sel, err := labels.Parse(e.Selector)
	if err != nil {
		return fail("selector", "%q is not a label selector (%v): write it as kubectl -l takes it, e.g. \"app=web,tier!=cache\" or \"app in (web,api)\"", e.Selector, err)
	}
	e.LabelSelector = sel
	if e.Format == "" {
		e.Format = "cri"
	}
	return validateFileOptions(e, fail)
}

// kubernetesKey identifies a kubernetes entry's derived tasks: its topic,
// namespaces and selector (editing how files are read keeps the key).
func (e *Entry) kubernetesKey() string {
	ns := slices.Clone(e.Namespaces)
	slices.Sort(ns)
	b, _ := json.Marshal(struct {
		N []string `json:"n"`
		S string   `json:"s"`
	}{ns, e.Selector})
	sum := sha256.Sum256(b)
	return "kubernetes:" + e.Topic + ":" + hex.EncodeToString(sum[:8])
}

// SelectsPod reports whether a kubernetes entry follows a pod of namespace
// ns with labels.
func (e *Entry) SelectsPod(ns string, podLabels map[string]string) bool {
	if len(e.Namespaces) > 0 && !slices.Contains(e.Namespaces, ns) {
		return false
	}
	return e.LabelSelector == nil || e.LabelSelector.Matches(labels.Set(podLabels))
}
