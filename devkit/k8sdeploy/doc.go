// Package k8sdeploy checks the Kubernetes manifests in deploy/kubernetes:
// every document decodes strictly into its k8s.io/api type, names and
// labels agree, the images, ports and config paths match the Dockerfiles,
// the agent's RBAC is read-only on pods, and a real kube-apiserver accepts
// them (server-side dry-run; skipped with a message only when the binary
// cannot be built). Each service's module checks the containers'
// environment against its own settings loader (testkit.RepoKubeService).
package k8sdeploy
