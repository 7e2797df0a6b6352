// Package kubetest tests the agent's Kubernetes support against a real
// kube-apiserver (testkit.StartKubeAPIServer, built once per machine by
// scripts/build-kube-apiserver.sh) and the dev stack: pod metadata in
// records, discovery of annotated pods, draining of deleted pods, an API
// server outage, and a pod with 10,000 labels. The kubelet's directories
// are a temporary tree the tests write like a kubelet would. It is a
// package of its own so that the other packages' tests never wait for the
// apiserver.
package kubetest
