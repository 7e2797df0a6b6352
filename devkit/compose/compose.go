// Package compose reads docker-compose.yml so tests can check it against the
// code — no Docker engine runs on the build machines, so this is how the
// file stays consistent with what the services read.
package compose

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v2"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/pkg/settings"
)

// File is the part of a compose file the checks read.
type File struct {
	Dir      string             `yaml:"-"` // directory of the file; relative paths are from here
	Services map[string]Service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
}

// Service is one compose service.
type Service struct {
	Image       string            `yaml:"image"`
	Build       *Build            `yaml:"build"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	DependsOn   map[string]any    `yaml:"depends_on"`
	Healthcheck map[string]any    `yaml:"healthcheck"`
	User        string            `yaml:"user"`
}

// Build is a service's build section.
type Build struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

// Load parses the compose file at path.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read compose file: %w", err)
	}
	var f File
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parse compose file %s: %w", path, err)
	}
	f.Dir = filepath.Dir(path)
	return &f, nil
}

// EnvWithPrefix returns the service's environment variables that start with
// prefix (e.g. "LOGAGENT_").
func (s Service) EnvWithPrefix(prefix string) []string {
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
func (s Service) UnknownEnv(prefix string, known []string) []string {
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
func (f *File) HostPaths() []string {
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

// ServiceSettings loads a service's settings as its container would: the
// ini file the image ships (iniPath, relative to the compose file) with the
// service's environment as overrides. The caller feeds the result to its
// config loader and checks UnknownEnv against f.EnvNames() afterwards.
func (f *File) ServiceSettings(service, iniPath, envPrefix string) (*settings.File, Service, error) {
	svc, ok := f.Services[service]
	if !ok {
		return nil, Service{}, fmt.Errorf("compose file has no service %q", service)
	}
	path := filepath.Join(f.Dir, iniPath)
	ini, err := os.ReadFile(path)
	if err != nil {
		return nil, svc, fmt.Errorf("read the image's settings: %w", err)
	}
	sf, err := settings.Parse(path, ini, envPrefix, func(k string) (string, bool) {
		v, ok := svc.Environment[k]
		return v, ok
	})
	return sf, svc, err
}

// RepoServiceSettings is ServiceSettings on the repository's own
// docker-compose.yml, found above the working directory.
func RepoServiceSettings(service, iniPath, envPrefix string) (*settings.File, Service, error) {
	root, err := testkit.RepoRoot()
	if err != nil {
		return nil, Service{}, err
	}
	f, err := Load(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		return nil, Service{}, err
	}
	return f.ServiceSettings(service, iniPath, envPrefix)
}
