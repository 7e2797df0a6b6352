package kubemeta

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
)

// podsClient lists and watches pods through a REST client whose scheme
// holds core/v1 alone (see Connect).
type podsClient struct {
	rest   rest.Interface
	params runtime.ParameterCodec
}

func newPodsClient(cfg *rest.Config) (*podsClient, error) {
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("kubernetes scheme: %w", err)
	}
	c := *cfg
	c.APIPath = "/api"
	c.GroupVersion = &corev1.SchemeGroupVersion
	c.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	rc, err := rest.RESTClientFor(&c)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return &podsClient{rest: rc, params: runtime.NewParameterCodec(scheme)}, nil
}

func (p *podsClient) List(ctx context.Context, opts metav1.ListOptions) (*corev1.PodList, error) {
	l := &corev1.PodList{}
	err := p.rest.Get().Resource("pods").VersionedParams(&opts, p.params).Do(ctx).Into(l)
	return l, err
}

func (p *podsClient) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	opts.Watch = true
	return p.rest.Get().Resource("pods").VersionedParams(&opts, p.params).Watch(ctx)
}
