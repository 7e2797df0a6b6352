package testkit

// This file reads docker-compose.yml so tests can check it against the
// code: no Docker engine runs on the build machines, so this is how the
// file stays consistent with what the services read.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v2"
)

// ComposeFile is the part of a compose file the checks read.
type ComposeFile struct {
	Dir      string                    `yaml:"-"` // directory of the file; relative paths are from here
	Services map[string]ComposeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

// ComposeService is one compose service.
type ComposeService struct {
	Image       string            `yaml:"image"`
	Build       *ComposeBuild     `yaml:"build"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	DependsOn   map[string]any    `yaml:"depends_on"`
	Healthcheck map[string]any    `yaml:"healthcheck"`
	User        string            `yaml:"user"`
}

// ComposeBuild is a service's build section.
type ComposeBuild struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

// LoadCompose parses the compose file at path.
func LoadCompose(path string) (*ComposeFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read compose file: %w", err)
	}
	var f ComposeFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parse compose file %s: %w", path, err)
	}
	f.Dir = filepath.Dir(path)
	return &f, nil
}

// EnvWithPrefix returns the service's environment variables that start with
// prefix (e.g. "LOGAGENT_").
func (s ComposeService) EnvWithPrefix(prefix string) []string {
	var out []string
	for k := range s.Environment {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out
}

// UnknownEnv returns the service's variables with prefix that are not in
// known (the loader's settings.File.EnvNames()).
func (s ComposeService) UnknownEnv(prefix string, known []string) []string {
	set := map[string]bool{}
	for _, k := range known {
		set[k] = true
	}
	var out []string
	for _, k := range s.EnvWithPrefix(prefix) {
		if !set[k] {
			out = append(out, k)
		}
	}
	return out
}

// HostPaths lists the files and directories on the host that services mount
// or build from (bind mounts, build contexts, Dockerfiles), relative to Dir.
func (f *ComposeFile) HostPaths() []string {
	var out []string
	for _, s := range f.Services {
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
				out = append(out, src)
			}
		}
		if s.Build != nil {
			out = append(out, s.Build.Context, filepath.Join(s.Build.Context, s.Build.Dockerfile))
		}
	}
	return out
}

// Lookup reads the service's environment, in the form of os.LookupEnv
// (for settings.Parse).
func (s ComposeService) Lookup(name string) (string, bool) {
	v, ok := s.Environment[name]
	return v, ok
}

// RepoComposeService reads what a service's container loads its settings
// from, in the repository's docker-compose.yml: the ini file the image
// ships (iniPath, relative to the repository root; its path and content)
// and the service, whose Lookup gives the environment overrides. The
// caller parses them with its config loader and checks UnknownEnv.
func RepoComposeService(service, iniPath string) (string, []byte, ComposeService, error) {
	f, err := RepoCompose()
	if err != nil {
		return "", nil, ComposeService{}, err
	}
	svc, ok := f.Services[service]
	if !ok {
		return "", nil, ComposeService{}, fmt.Errorf("compose file has no service %q", service)
	}
	path := filepath.Join(f.Dir, iniPath)
	ini, err := os.ReadFile(path)
	if err != nil {
		return "", nil, svc, fmt.Errorf("read the image's settings: %w", err)
	}
	return path, ini, svc, nil
}

// RepoCompose loads the repository's own docker-compose.yml, found above
// the working directory.
func RepoCompose() (*ComposeFile, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	return LoadCompose(filepath.Join(root, "docker-compose.yml"))
}
