// Package scrape reads a Prometheus scrape in tests: it fetches /metrics,
// parses the text exposition format and finds series by their labels.
package scrape

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TextContentType is what GET /metrics answers to a client that asks for
// no particular format: the text exposition format 0.0.4.
const TextContentType = "text/plain; version=0.0.4"

// Scrape is one parsed scrape.
type Scrape struct {
	Text     []byte
	Families map[string]*dto.MetricFamily
}

// Get fetches url (a /metrics route) with client and parses it; the answer
// must be 200 in the text format.
func Get(t testing.TB, client *http.Client, url string) *Scrape {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), TextContentType) {
		t.Fatalf("scrape %s: status %d, Content-Type %q:\n%s", url, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	return Parse(t, b)
}

// Parse parses a scrape in the text format.
func Parse(t testing.TB, text []byte) *Scrape {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("parse scrape: %v\n%s", err, text)
	}
	return &Scrape{Text: text, Families: fams}
}

// Names returns the names of the families, sorted.
func (s *Scrape) Names() []string {
	names := make([]string, 0, len(s.Families))
	for n := range s.Families {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Type returns the type of the family name ("" when there is none).
func (s *Scrape) Type(name string) string {
	f := s.Families[name]
	if f == nil {
		return ""
	}
	return strings.ToLower(f.GetType().String())
}

// Find returns the series of family name whose labels are exactly the
// pairs given (name, value, name, value...), or nil.
func (s *Scrape) Find(name string, labels ...string) *dto.Metric {
	f := s.Families[name]
	if f == nil {
		return nil
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		ok := true
		for _, l := range m.GetLabel() {
			if v, has := want[l.GetName()]; !has || v != l.GetValue() {
				ok = false
				break
			}
		}
		if ok {
			return m
		}
	}
	return nil
}

// Value returns the value of a counter or gauge series, and whether it
// exists.
func (s *Scrape) Value(name string, labels ...string) (float64, bool) {
	m := s.Find(name, labels...)
	switch {
	case m == nil:
		return 0, false
	case m.Counter != nil:
		return m.Counter.GetValue(), true
	case m.Gauge != nil:
		return m.Gauge.GetValue(), true
	case m.Untyped != nil:
		return m.Untyped.GetValue(), true
	}
	return 0, false
}

// Histogram returns a histogram series, or nil.
func (s *Scrape) Histogram(name string, labels ...string) *dto.Histogram {
	if m := s.Find(name, labels...); m != nil {
		return m.Histogram
	}
	return nil
}

// Series returns the label sets of family name's series with label equal
// to value, each as "k=v,k=v" in label order.
func (s *Scrape) Series(name, label, value string) []string {
	var out []string
	f := s.Families[name]
	if f == nil {
		return nil
	}
	for _, m := range f.GetMetric() {
		var parts []string
		match := false
		for _, l := range m.GetLabel() {
			parts = append(parts, l.GetName()+"="+l.GetValue())
			match = match || l.GetName() == label && l.GetValue() == value
		}
		if match {
			out = append(out, strings.Join(parts, ","))
		}
	}
	return out
}
