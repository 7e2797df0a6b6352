package podpath

import "testing"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		path string
		want Ref
	}{
		{"/var/log/pods/web_web-1_0f3a/app/0.log", Ref{Namespace: "web", PodName: "web-1", PodUID: "0f3a", ContainerName: "app"}},
		{"/var/log/containers/web-1_web_app-abc123.log", Ref{Namespace: "web", PodName: "web-1", ContainerName: "app", ContainerID: "abc123"}},
		{"/var/lib/docker/containers/abc123/abc123-json.log", Ref{ContainerID: "abc123"}},
		{"/var/lib/kubelet/pods/0f3a/volumes/kubernetes.io~empty-dir/logs/app/a.log", Ref{PodUID: "0f3a", Volume: "logs"}},
		{"/tmp/k/log/pods/ns_p_u/c/1.log", Ref{Namespace: "ns", PodName: "p", PodUID: "u", ContainerName: "c"}},
		{"/var/lib/kubelet/pods/0f3a/volumes/x", Ref{}}, // no file in a volume
		{"/var/lib/docker/containers/abc/other.log", Ref{}},
		{"/var/log/nginx/access.log", Ref{}},
	} {
		if got := Parse(tc.path); got != tc.want {
			t.Errorf("Parse(%s) = %+v, want %+v", tc.path, got, tc.want)
		}
	}
	if k := FromPath("/var/log/nginx/access.log"); k != nil {
		t.Errorf("FromPath of a plain file = %+v, want nil", k)
	}
	if k := FromPath("/var/lib/kubelet/pods/0f3a/volumes/kubernetes.io~empty-dir/logs/a.log"); k != nil {
		t.Errorf("FromPath of a volume file = %+v, want nil (the path names no pod name)", k)
	}
}
