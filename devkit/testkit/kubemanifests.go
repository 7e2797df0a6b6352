package testkit

// This file reads deploy/kubernetes/*.yaml so tests can check the manifests
// against the code, as compose.go does for docker-compose.yml.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"go.yaml.in/yaml/v2"
)

// KubeManifestDir is where the manifests live, relative to the repository root.
const KubeManifestDir = "deploy/kubernetes"

// KubeDoc is one YAML document of a manifest file.
type KubeDoc struct {
	File      string // relative to the repository root
	Data      []byte // the document's YAML
	Kind      string
	Name      string
	Namespace string
}

// FieldRefPlaceholders stand in for downward-API values when a test loads
// a container's environment (a fieldRef has no value outside a cluster).
var FieldRefPlaceholders = map[string]string{
	"status.hostIP":      "10.0.0.7",
	"status.podIP":       "10.244.0.7",
	"spec.nodeName":      "node-7",
	"metadata.name":      "pod-7",
	"metadata.namespace": "logcollect",
}

// RepoKubeManifests reads every document of deploy/kubernetes/*.yaml, in
// file order.
func RepoKubeManifests() ([]KubeDoc, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(root, KubeManifestDir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var docs []KubeDoc
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(root, f)
		for i, part := range bytes.Split(data, []byte("\n---")) {
			var head struct {
				Kind     string `yaml:"kind"`
				Metadata struct {
					Name      string `yaml:"name"`
					Namespace string `yaml:"namespace"`
				} `yaml:"metadata"`
			}
			if err := yaml.Unmarshal(part, &head); err != nil {
				return nil, fmt.Errorf("%s document %d: %w", rel, i+1, err)
			}
			if head.Kind == "" {
				continue // comments only
			}
			docs = append(docs, KubeDoc{File: rel, Data: part, Kind: head.Kind, Name: head.Metadata.Name, Namespace: head.Metadata.Namespace})
		}
	}
	return docs, nil
}

// RepoKubeService reads what a container of a workload (DaemonSet or
// Deployment named workload) loads its settings from: the ini file in
// configMap's data key "config.ini" and the container's environment, as a
// ComposeService whose Lookup gives the overrides (downward-API values are
// FieldRefPlaceholders). The caller parses them with its config loader and
// checks UnknownEnv, as for docker-compose.yml.
func RepoKubeService(workload, container, configMap string) (string, []byte, ComposeService, error) {
	docs, err := RepoKubeManifests()
	if err != nil {
		return "", nil, ComposeService{}, err
	}
	var ini []byte
	var iniFile string
	var svc *ComposeService
	for _, d := range docs {
		switch {
		case d.Kind == "ConfigMap" && d.Name == configMap:
			var cm struct {
				Data map[string]string `yaml:"data"`
			}
			if err := yaml.Unmarshal(d.Data, &cm); err != nil {
				return "", nil, ComposeService{}, fmt.Errorf("%s: %w", d.File, err)
			}
			ini, iniFile = []byte(cm.Data["config.ini"]), d.File
		case (d.Kind == "DaemonSet" || d.Kind == "Deployment") && d.Name == workload:
			var w struct {
				Spec struct {
					Template struct {
						Spec struct {
							Containers []struct {
								Name  string `yaml:"name"`
								Image string `yaml:"image"`
								Env   []struct {
									Name      string `yaml:"name"`
									Value     string `yaml:"value"`
									ValueFrom *struct {
										FieldRef *struct {
											FieldPath string `yaml:"fieldPath"`
										} `yaml:"fieldRef"`
									} `yaml:"valueFrom"`
								} `yaml:"env"`
								Ports []struct {
									ContainerPort int `yaml:"containerPort"`
								} `yaml:"ports"`
							} `yaml:"containers"`
						} `yaml:"spec"`
					} `yaml:"template"`
				} `yaml:"spec"`
			}
			if err := yaml.Unmarshal(d.Data, &w); err != nil {
				return "", nil, ComposeService{}, fmt.Errorf("%s: %w", d.File, err)
			}
			for _, c := range w.Spec.Template.Spec.Containers {
				if c.Name != container {
					continue
				}
				s := ComposeService{Image: c.Image, Environment: map[string]string{}}
				for _, e := range c.Env {
					v := e.Value
					if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
						p, ok := FieldRefPlaceholders[e.ValueFrom.FieldRef.FieldPath]
						if !ok {
							return "", nil, ComposeService{}, fmt.Errorf("%s: env %s: fieldRef %s has no test placeholder (testkit.FieldRefPlaceholders)", d.File, e.Name, e.ValueFrom.FieldRef.FieldPath)
						}
						v = p
					}
					s.Environment[e.Name] = v
				}
				for _, p := range c.Ports {
					s.Ports = append(s.Ports, strconv.Itoa(p.ContainerPort))
				}
				svc = &s
			}
		}
	}
	if ini == nil {
		return "", nil, ComposeService{}, fmt.Errorf("%s: no ConfigMap %s with data config.ini", KubeManifestDir, configMap)
	}
	if svc == nil {
		return "", nil, ComposeService{}, fmt.Errorf("%s: no DaemonSet or Deployment %s with container %s", KubeManifestDir, workload, container)
	}
	return iniFile, ini, *svc, nil
}
