package k8sdeploy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/logcollect/logcollect/devkit/testkit"
)

// manifests are the decoded documents of deploy/kubernetes.
type manifests struct {
	namespaces  []*corev1.Namespace
	accounts    []*corev1.ServiceAccount
	configMaps  []*corev1.ConfigMap
	roles       []*rbacv1.ClusterRole
	bindings    []*rbacv1.ClusterRoleBinding
	daemonSets  []*appsv1.DaemonSet
	deployments []*appsv1.Deployment
	all         []testkit.KubeDoc
}

// load decodes every document strictly: an unknown or misspelt field
// (a typo kubectl would reject) fails the test.
func load(t *testing.T) *manifests {
	t.Helper()
	docs, err := testkit.RepoKubeManifests()
	if err != nil {
		t.Fatal(err)
	}
	m := &manifests{all: docs}
	for _, d := range docs {
		var obj any
		switch d.Kind {
		case "Namespace":
			o := &corev1.Namespace{}
			m.namespaces, obj = append(m.namespaces, o), o
		case "ServiceAccount":
			o := &corev1.ServiceAccount{}
			m.accounts, obj = append(m.accounts, o), o
		case "ConfigMap":
			o := &corev1.ConfigMap{}
			m.configMaps, obj = append(m.configMaps, o), o
		case "ClusterRole":
			o := &rbacv1.ClusterRole{}
			m.roles, obj = append(m.roles, o), o
		case "ClusterRoleBinding":
			o := &rbacv1.ClusterRoleBinding{}
			m.bindings, obj = append(m.bindings, o), o
		case "DaemonSet":
			o := &appsv1.DaemonSet{}
			m.daemonSets, obj = append(m.daemonSets, o), o
		case "Deployment":
			o := &appsv1.Deployment{}
			m.deployments, obj = append(m.deployments, o), o
		default:
			t.Errorf("%s: kind %s is not expected here (add it to the checks)", d.File, d.Kind)
			continue
		}
		if err := yaml.UnmarshalStrict(d.Data, obj); err != nil {
			t.Errorf("%s: %s %s: %v", d.File, d.Kind, d.Name, err)
		}
	}
	return m
}

func TestManifestsDecodeAndAgree(t *testing.T) {
	m := load(t)
	if len(m.namespaces) != 1 || len(m.daemonSets) != 1 || len(m.deployments) != 1 || len(m.accounts) != 1 || len(m.roles) != 1 || len(m.bindings) != 1 {
		t.Fatalf("want one Namespace, DaemonSet, Deployment, ServiceAccount, ClusterRole, ClusterRoleBinding; got %d %d %d %d %d %d",
			len(m.namespaces), len(m.daemonSets), len(m.deployments), len(m.accounts), len(m.roles), len(m.bindings))
	}
	ns := m.namespaces[0].Name
	for _, d := range m.all {
		namespaced := d.Kind != "Namespace" && d.Kind != "ClusterRole" && d.Kind != "ClusterRoleBinding"
		if namespaced && d.Namespace != ns {
			t.Errorf("%s: %s %s is in namespace %q, want %q", d.File, d.Kind, d.Name, d.Namespace, ns)
		}
	}
	cms := map[string]*corev1.ConfigMap{}
	for _, c := range m.configMaps {
		cms[c.Name] = c
	}

	// RBAC: get/list/watch pods, nothing more, bound to the DaemonSet's account.
	role, binding, sa := m.roles[0], m.bindings[0], m.accounts[0]
	if len(role.Rules) != 1 || !slices.Equal(role.Rules[0].APIGroups, []string{""}) || !slices.Equal(role.Rules[0].Resources, []string{"pods"}) ||
		!slices.Equal(role.Rules[0].Verbs, []string{"get", "list", "watch"}) {
		t.Errorf("ClusterRole %s rules %+v: want get/list/watch on pods only", role.Name, role.Rules)
	}
	if binding.RoleRef.Kind != "ClusterRole" || binding.RoleRef.Name != role.Name || len(binding.Subjects) != 1 ||
		binding.Subjects[0].Kind != "ServiceAccount" || binding.Subjects[0].Name != sa.Name || binding.Subjects[0].Namespace != ns {
		t.Errorf("ClusterRoleBinding %s binds %+v to %+v: want ClusterRole %s to ServiceAccount %s/%s", binding.Name, binding.RoleRef, binding.Subjects, role.Name, ns, sa.Name)
	}

	ds := m.daemonSets[0]
	checkWorkload(t, "DaemonSet", ds.Name, ds.Spec.Selector, ds.Spec.Template, cms)
	if ds.Spec.Template.Spec.ServiceAccountName != sa.Name {
		t.Errorf("DaemonSet runs as service account %q, want %q (the one RBAC binds)", ds.Spec.Template.Spec.ServiceAccountName, sa.Name)
	}
	agent := ds.Spec.Template.Spec.Containers[0]
	sc := agent.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 1 {
		t.Errorf("logagent securityContext %+v: want a read-only root, no privilege escalation, ALL capabilities dropped (at most DAC_READ_SEARCH back)", sc)
	}
	hostPaths := map[string]string{}
	for _, v := range ds.Spec.Template.Spec.Volumes {
		if v.HostPath != nil {
			hostPaths[v.Name] = v.HostPath.Path
		}
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, vm := range agent.VolumeMounts {
		mounts[vm.MountPath] = vm
	}
	for _, dir := range []string{"/var/log", "/var/lib/docker/containers", "/var/lib/kubelet/pods", "/var/lib/logagent"} {
		vm, ok := mounts[dir]
		if !ok || hostPaths[vm.Name] != dir {
			t.Errorf("logagent does not mount host %s at the same path (mounts %v)", dir, agent.VolumeMounts)
			continue
		}
		if dir != "/var/lib/logagent" && !vm.ReadOnly {
			t.Errorf("logagent mounts host %s writable; the agent only reads logs", dir)
		}
	}
	if agent.Resources.Limits.Memory().IsZero() || agent.Resources.Requests.Cpu().IsZero() {
		t.Errorf("logagent resources %+v: want requests and a memory limit", agent.Resources)
	}

	dep := m.deployments[0]
	checkWorkload(t, "Deployment", dep.Name, dep.Spec.Selector, dep.Spec.Template, cms)

	// Images, ports and config paths as the Dockerfiles build them.
	root, err := testkit.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		service string
		ct      corev1.Container
	}{{"logagent", agent}, {"logtransfer", dep.Spec.Template.Spec.Containers[0]}} {
		df, err := os.ReadFile(filepath.Join(root, c.service, "Dockerfile"))
		if err != nil {
			t.Fatal(err)
		}
		conf := "/etc/" + c.service + "/config.ini"
		if !strings.Contains(string(df), "COPY "+c.service+"/conf/config.ini "+conf) {
			t.Errorf("%s/Dockerfile does not install %s, which the manifests mount over", c.service, conf)
		}
		if !strings.HasPrefix(c.ct.Image, "logcollect/"+c.service+":") {
			t.Errorf("%s image %q: want logcollect/%s:<tag> (docker build -f %s/Dockerfile)", c.service, c.ct.Image, c.service, c.service)
		}
		if len(c.ct.Ports) == 0 || !strings.Contains(string(df), "EXPOSE "+strconv.Itoa(int(c.ct.Ports[0].ContainerPort))) {
			t.Errorf("%s port %v is not what its Dockerfile exposes", c.service, c.ct.Ports)
		}
		if !slices.Equal(c.ct.Args, []string{"-config", conf}) {
			t.Errorf("%s args %v: want -config %s", c.service, c.ct.Args, conf)
		}
		found := false
		for _, vm := range c.ct.VolumeMounts {
			found = found || (vm.MountPath == conf && vm.SubPath == "config.ini")
		}
		if !found {
			t.Errorf("%s does not mount its ConfigMap's config.ini at %s", c.service, conf)
		}
	}
}

// checkWorkload: the selector picks the template's pods, the probes use a
// declared port, and every ConfigMap the pods mount exists.
func checkWorkload(t *testing.T, kind, name string, sel *metav1.LabelSelector, tpl corev1.PodTemplateSpec, cms map[string]*corev1.ConfigMap) {
	t.Helper()
	if sel == nil || len(sel.MatchLabels) == 0 {
		t.Errorf("%s %s has no selector", kind, name)
		return
	}
	for k, v := range sel.MatchLabels {
		if tpl.Labels[k] != v {
			t.Errorf("%s %s selects %s=%s, which its pods do not carry (%v)", kind, name, k, v, tpl.Labels)
		}
	}
	if tpl.Labels["app.kubernetes.io/name"] != name {
		t.Errorf("%s %s pods are labelled app.kubernetes.io/name=%q, want %q", kind, name, tpl.Labels["app.kubernetes.io/name"], name)
	}
	for _, v := range tpl.Spec.Volumes {
		if v.ConfigMap != nil && cms[v.ConfigMap.Name] == nil {
			t.Errorf("%s %s mounts ConfigMap %s, which the manifests do not define", kind, name, v.ConfigMap.Name)
		}
	}
	for _, c := range tpl.Spec.Containers {
		ports := map[string]bool{}
		for _, p := range c.Ports {
			ports[p.Name] = true
		}
		for _, pr := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe} {
			if pr == nil || pr.HTTPGet == nil || !ports[pr.HTTPGet.Port.StrVal] {
				t.Errorf("%s %s container %s: probes must GET a named container port", kind, name, c.Name)
			}
		}
	}
}

// TestManifestsServerDryRun applies every manifest to a real kube-apiserver
// with server-side dry-run (after creating the namespace): schema,
// defaulting and validation exactly as a cluster does them.
func TestManifestsServerDryRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kube-apiserver")
	}
	m := load(t)
	api := testkit.StartKubeAPIServer(t)
	kubeconfig, err := api.Kubeconfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.CoreV1().Namespaces().Create(ctx, m.namespaces[0], metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dry := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"}
	check := func(kind, name string, err error) {
		if err != nil {
			t.Errorf("dry-run create %s %s: %v", kind, name, err)
		}
	}
	for _, o := range m.accounts {
		_, err := c.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, o, dry)
		check("ServiceAccount", o.Name, err)
	}
	for _, o := range m.configMaps {
		_, err := c.CoreV1().ConfigMaps(o.Namespace).Create(ctx, o, dry)
		check("ConfigMap", o.Name, err)
	}
	for _, o := range m.roles {
		_, err := c.RbacV1().ClusterRoles().Create(ctx, o, dry)
		check("ClusterRole", o.Name, err)
	}
	for _, o := range m.bindings {
		_, err := c.RbacV1().ClusterRoleBindings().Create(ctx, o, dry)
		check("ClusterRoleBinding", o.Name, err)
	}
	for _, o := range m.daemonSets {
		_, err := c.AppsV1().DaemonSets(o.Namespace).Create(ctx, o, dry)
		check("DaemonSet", o.Name, err)
	}
	for _, o := range m.deployments {
		_, err := c.AppsV1().Deployments(o.Namespace).Create(ctx, o, dry)
		check("Deployment", o.Name, err)
	}
}
