package logsink

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// recorder is an output that keeps every write apart.
type recorder struct {
	mu     sync.Mutex
	writes [][]byte
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, bytes.Clone(p))
	return len(p), nil
}

func (r *recorder) all() (string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(bytes.Join(r.writes, nil)), len(r.writes)
}

// stalled is an output that blocks every write until released, as a pipe
// whose reader stopped reading does.
type stalled struct {
	entered chan struct{} // a write began
	release chan struct{}
	rec     recorder
}

func newStalled() *stalled {
	return &stalled{entered: make(chan struct{}, 1), release: make(chan struct{})}
}

func (s *stalled) Write(p []byte) (int, error) {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-s.release
	return s.rec.Write(p)
}

// failing fails every write until healed.
type failing struct {
	mu     sync.Mutex
	broken bool
	rec    recorder
	calls  int
}

func (f *failing) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.broken {
		return 0, syscall.EPIPE
	}
	return f.rec.Write(p)
}

func (f *failing) set(broken bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.broken = broken
}

// record is the i-th record, 16 bytes.
func record(i int) []byte { return fmt.Appendf(nil, "record %08d\n", i) }

func TestSink_WritesWholeRecordsInOrder(t *testing.T) {
	var out recorder
	s := New(&out, Options{MaxWrite: 64})
	var want strings.Builder
	for i := range 100 {
		p := record(i)
		want.Write(p)
		if n, err := s.Write(p); n != len(p) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	long := []byte(strings.Repeat("x", 200) + "\n") // longer than MaxWrite: alone in its write
	want.Write(long)
	s.Write(long)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := out.all()
	if got != want.String() {
		t.Fatalf("output differs:\n%q\nwant\n%q", got, want.String())
	}
	for _, w := range out.writes {
		if len(w) > 64 && string(w) != string(long) {
			t.Fatalf("a write of %d bytes, over MaxWrite, holding more than one record: %q", len(w), w)
		}
		if w[len(w)-1] != '\n' {
			t.Fatalf("a write ends inside a record: %q", w)
		}
	}
	if s.Dropped() != 0 {
		t.Fatalf("dropped %d", s.Dropped())
	}
}

// TestSink_StalledOutput: an output that does not take anything never
// blocks Write; past the buffer whole records are dropped and counted;
// Close returns within its bound; released, the output gets the records
// that fit, whole.
func TestSink_StalledOutput(t *testing.T) {
	out := newStalled()
	s := New(out, Options{Size: 1024, CloseTimeout: 100 * time.Millisecond})
	s.Write(record(0))
	<-out.entered // the flusher is stuck in the output with record 0
	const n = 1000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= n; i++ {
			s.Write(record(i))
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Write blocked on a stalled output")
	}
	kept := 1024 / len(record(0)) // whole records that fit the buffer: 64
	if got := s.Dropped(); got != uint64(n-kept) {
		t.Fatalf("dropped %d, want %d", got, n-kept)
	}
	start := time.Now()
	if err := s.Close(); !errors.Is(err, ErrCloseTimeout) {
		t.Fatalf("Close on a stalled output: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Close took %s, bound 100ms", took)
	}
	if _, err := s.Write(record(0)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
	close(out.release)
	<-s.done
	got, _ := out.rec.all()
	var want strings.Builder
	for i := range kept + 1 {
		want.Write(record(i))
	}
	if got != want.String() {
		t.Fatalf("released output:\n%q\nwant\n%q", got, want.String())
	}
}

// TestSink_FailingOutput: the records of failed writes are dropped and
// counted, the error is kept; once the output works again records flow.
func TestSink_FailingOutput(t *testing.T) {
	out := &failing{broken: true}
	s := New(out, Options{MaxWrite: 1}) // one record per write
	for i := range 10 {
		s.Write(record(i))
	}
	waitFor(t, func() bool { return s.Dropped() == 10 })
	if !errors.Is(s.Err(), syscall.EPIPE) {
		t.Fatalf("Err = %v", s.Err())
	}
	out.set(false)
	s.Write(record(10))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := out.rec.all(); got != string(record(10)) {
		t.Fatalf("output after healing: %q", got)
	}
	if s.Err() != nil || s.Dropped() != 10 {
		t.Fatalf("Err %v, dropped %d", s.Err(), s.Dropped())
	}
}

// TestSink_ClosedPipe: a pipe whose reader is gone fails with EPIPE, not
// SIGPIPE (only descriptors 1 and 2 raise it in Go), and Close is prompt.
func TestSink_ClosedPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r.Close()
	s := New(w, Options{})
	s.Write(record(1))
	waitFor(t, func() bool { return s.Dropped() == 1 })
	if !errors.Is(s.Err(), syscall.EPIPE) {
		t.Fatalf("Err = %v", s.Err())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSink_Reopen: after the file is renamed (logrotate) and Reopen, the
// records before it are in the renamed file and those after it in a new
// file at the path.
func TestSink_Reopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	s, err := OpenFile(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Write(record(1))
	s.Write(record(2))
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Reopen(); err != nil {
		t.Fatal(err)
	}
	s.Write(record(3))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Reopen(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Reopen after Close: %v", err)
	}
	for file, want := range map[string]string{path + ".1": "record 00000001\nrecord 00000002\n", path: "record 00000003\n"} {
		b, err := os.ReadFile(file)
		if err != nil || string(b) != want {
			t.Fatalf("%s: %q %v, want %q", filepath.Base(file), b, err, want)
		}
	}
	if _, err := OpenFile(filepath.Join(dir, "no", "such", "dir"), Options{}); err == nil {
		t.Fatal("OpenFile of a path that cannot exist worked")
	}
	if err := New(&recorder{}, Options{}).Reopen(); err != nil {
		t.Fatalf("Reopen without a file: %v", err)
	}
}

// TestSink_Concurrent writes from many goroutines: every record arrives
// whole (run with -race).
func TestSink_Concurrent(t *testing.T) {
	var out recorder
	s := New(&out, Options{Size: 1 << 20})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				s.Write(record(g*1000 + i))
			}
		})
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := out.all()
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 1600 || s.Dropped() != 0 {
		t.Fatalf("%d lines, %d dropped", len(lines), s.Dropped())
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "record ") || len(l) != len("record 00000000") {
			t.Fatalf("a broken record %q", l)
		}
	}
}

func TestSink_WriteDoesNotAllocate(t *testing.T) {
	s := New(&recorder{}, Options{})
	defer s.Close()
	p := record(1)
	if n := testing.AllocsPerRun(1000, func() { s.Write(p) }); n != 0 {
		t.Fatalf("Write allocates %.1f times", n)
	}
}

// TestSink_writeDoesNotAllocate: the flusher's write to an output that
// takes everything allocates nothing (the error it keeps only when one
// came).
func TestSink_writeDoesNotAllocate(t *testing.T) {
	s := &Sink{opts: Options{}.withDefaults(), out: discard{}}
	b := newBatch(1 << 10)
	for i := range 8 {
		b.buf = append(b.buf, record(i)...)
		b.ends = append(b.ends, len(b.buf))
	}
	if n := testing.AllocsPerRun(1000, func() { s.write(&b, 0, len(b.ends)) }); n != 0 {
		t.Fatalf("write allocates %.1f times", n)
	}
	s.out = &failing{broken: true}
	s.write(&b, 0, len(b.ends))
	if !errors.Is(s.Err(), syscall.EPIPE) || s.Dropped() != 8 {
		t.Fatalf("err %v, dropped %d", s.Err(), s.Dropped())
	}
}

// BenchmarkSink_Write reports Write's cost and allocations (0) with the
// output taking everything (discard) and with a stuck output (dropping).
func BenchmarkSink_Write(b *testing.B) {
	p := []byte(`time=2025-06-30T10:10:00.000Z level=INFO msg="traffic switched" app=web-api from=blue to=green` + "\n")
	b.Run("discard", func(b *testing.B) {
		s := New(discard{}, Options{})
		defer s.Close()
		b.ReportAllocs()
		b.SetBytes(int64(len(p)))
		for b.Loop() {
			s.Write(p)
		}
	})
	b.Run("stuck", func(b *testing.B) {
		out := newStalled()
		s := New(out, Options{CloseTimeout: time.Millisecond})
		defer close(out.release)
		defer s.Close()
		b.ReportAllocs()
		for b.Loop() {
			s.Write(p)
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}
