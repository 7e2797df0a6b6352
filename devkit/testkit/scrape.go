package testkit

import (
	"context"
	"fmt"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Samples are a scrape's values summed per metric name over all label sets
// (a histogram contributes its _sum and _count), which is what progress
// output and benchmark tables need.
type Samples map[string]float64

// Scrape fetches url (a /metrics endpoint) and sums its samples by name.
func Scrape(ctx context.Context, url string) (Samples, error) {
	body, err := Get(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	defer body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(body)
	if err != nil {
		return nil, fmt.Errorf("parse metrics from %s: %w", url, err)
	}
	out := Samples{}
	for name, fam := range families {
		for _, m := range fam.GetMetric() {
			switch {
			case m.Counter != nil:
				out[name] += m.Counter.GetValue()
			case m.Gauge != nil:
				out[name] += m.Gauge.GetValue()
			case m.Untyped != nil:
				out[name] += m.Untyped.GetValue()
			case m.Histogram != nil:
				out[name+"_sum"] += m.Histogram.GetSampleSum()
				out[name+"_count"] += float64(m.Histogram.GetSampleCount())
			case m.Summary != nil:
				out[name+"_sum"] += m.Summary.GetSampleSum()
				out[name+"_count"] += float64(m.Summary.GetSampleCount())
			}
		}
	}
	return out, nil
}
