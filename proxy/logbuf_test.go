package proxy

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestLogBuffer: records reach the sink whole, one Write each, in the
// order they came: after logFlushDelay, at once when the buffer is full,
// and a record larger than the buffer alone.
func TestLogBuffer(t *testing.T) {
	sink := &captureSink{}
	lb := newLogBuffer(sink)
	var want []string
	for i := range 3 {
		rec := fmt.Sprintf("record %d\n", i)
		want = append(want, rec)
		lb.add([]byte(rec))
	}
	if n := sink.count(); n != 0 {
		t.Fatalf("%d records written at once, want them batched", n)
	}
	start := time.Now()
	waitFor(t, 5*time.Second, "the batch", func() bool { return sink.count() == 3 })
	if d := time.Since(start); d > logFlushDelay+time.Second {
		t.Errorf("the batch came after %s", d)
	}
	big := strings.Repeat("x", 1000) + "\n"
	for range 2 * logBufSize / len(big) { // fills the buffer twice over
		want = append(want, big)
		lb.add([]byte(big))
	}
	if n := sink.count(); n < 3+logBufSize/len(big)-1 {
		t.Fatalf("%d records written, want a full buffer written at once", n)
	}
	huge := strings.Repeat("y", logBufSize+1) + "\n"
	want = append(want, huge, "last\n")
	lb.add([]byte(huge))
	lb.add([]byte("last\n"))
	lb.flush()
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.recs) != len(want) {
		t.Fatalf("%d records, want %d", len(sink.recs), len(want))
	}
	for i, r := range sink.recs {
		if string(r) != want[i] {
			t.Fatalf("record %d is %.40q, want %.40q", i, r, want[i])
		}
	}
}

func (s *captureSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.recs)
}

// TestLogBuffer_allocs: a record costs no allocation once the buffers
// exist.
func TestLogBuffer_allocs(t *testing.T) {
	lb := newLogBuffer(discardSink{})
	rec := []byte(strings.Repeat("r", 300) + "\n")
	lb.add(rec)
	if n := testing.AllocsPerRun(1000, func() { lb.add(rec) }); n != 0 {
		t.Errorf("%v allocations per record", n)
	}
}

type discardSink struct{}

func (discardSink) Write(p []byte) (int, error) { return len(p), nil }
