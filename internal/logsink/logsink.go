// Package logsink is a log output that never stops or stalls the code that
// logs (docs/cli.md, "The log output"). A Sink copies each record written to
// it into a bounded buffer and returns at once; a goroutine of its own
// writes the buffer to the real output. When the output is slow or stuck
// (a pipe nobody reads) the buffer fills and further records are dropped;
// when the output fails (a closed pipe: EPIPE, a full disk) the records it
// could not take are dropped. Either way whole records are dropped, never
// part of one, and Dropped counts them.
//
// One Write is one record, as a log/slog handler writes one. The output
// gets whole records only, in writes of at most Options.MaxWrite bytes
// (PIPE_BUF by default, so that two processes sharing a pipe or terminal,
// such as serve and the process an upgrade starts, never interleave within
// a record); a record longer than that is written alone.
//
// Write does not allocate. Reopen reopens a file a Sink was opened on
// (after logrotate moved it, on SIGHUP); Close writes what is buffered,
// within Options.CloseTimeout, and stops.
package logsink

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Options.
const (
	// DefaultSize is the buffer's size in bytes: the records waiting for
	// the output. A Sink holds two buffers of this size.
	DefaultSize = 256 << 10
	// DefaultMaxWrite is the largest write to the output: PIPE_BUF, the
	// most that a pipe takes in one piece.
	DefaultMaxWrite = 4096
	// DefaultFileMaxWrite is the largest write to a regular file that
	// OpenFile opened: an append of any size lands whole there, and few
	// large writes cost a busy access log far less CPU than many small
	// ones (docs/benchmarks.md).
	DefaultFileMaxWrite = 64 << 10
	// DefaultCloseTimeout bounds Close's wait for the output.
	DefaultCloseTimeout = 2 * time.Second
)

// ErrClosed is what Write, Reopen and Close return on a closed Sink.
var ErrClosed = errors.New("logsink: closed")

// ErrCloseTimeout is what Close returns when the output did not take the
// buffered records within Options.CloseTimeout; they are dropped.
var ErrCloseTimeout = errors.New("logsink: the output did not take the last records in time")

// Options tune a Sink; the zero value takes every default.
type Options struct {
	Size         int           // bytes buffered at most; 0: DefaultSize
	MaxWrite     int           // bytes per write to the output at most; 0: DefaultMaxWrite
	CloseTimeout time.Duration // Close's bound; 0: DefaultCloseTimeout
}

// Sink is a log output that never blocks its writers; see the package
// comment. It is safe for concurrent use.
type Sink struct {
	opts Options
	path string // the file of OpenFile, which Reopen opens again; "" for New

	mu      sync.Mutex
	pending batch     // filled by Write
	reopen  *os.File  // set by Reopen, taken by the flusher
	cut     int       // how many pending records go to the output before reopen
	closed  bool      // Close was called: Write refuses
	wake    chan bool // one token: there is something for the flusher
	done    chan struct{}
	dropped atomic.Uint64
	lastErr atomic.Pointer[error] // the output's last error; nil once a write worked

	// The flusher's alone.
	out   io.Writer
	file  *os.File // out when it is a file the Sink opened (and closes)
	spare batch
}

// batch is records back to back, with where each ends.
type batch struct {
	buf  []byte
	ends []int
}

// New returns a Sink that writes to w. Reopen does nothing on it; Close
// does not close w.
func New(w io.Writer, o Options) *Sink {
	o = o.withDefaults()
	s := &Sink{opts: o, out: w, wake: make(chan bool, 1), done: make(chan struct{})}
	s.pending = newBatch(o.Size)
	s.spare = newBatch(o.Size)
	go s.flush()
	return s
}

// OpenFile returns a Sink that appends to the file at path, created with
// mode 0644 if it does not exist. Reopen opens it again; Close closes it.
// Its writes to a regular file take up to DefaultFileMaxWrite bytes
// unless o.MaxWrite says otherwise (a named pipe keeps DefaultMaxWrite).
func OpenFile(path string, o Options) (*Sink, error) {
	f, err := openAppend(path)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); o.MaxWrite <= 0 && err == nil && fi.Mode().IsRegular() {
		o.MaxWrite = DefaultFileMaxWrite
	}
	s := New(f, o)
	s.path, s.file = path, f
	return s, nil
}

// Write copies p, one record, into the buffer and returns len(p) and no
// error at once, even when p is dropped (the buffer is full, p is larger
// than the buffer); it fails only on a closed Sink. It does not allocate.
func (s *Sink) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, s.WriteRecords(nil, nil)
	}
	return len(p), s.WriteRecords(p, []int{len(p)})
}

// WriteRecords copies the records of buf, record i being
// buf[ends[i-1]:ends[i]] (the first from 0), as Write copies each: the
// records that do not fit are dropped and counted, and it fails only on a
// closed Sink. Unlike as many calls of Write, it takes the lock and wakes
// the writer once: a caller that gathers records (the proxy's access log)
// hands them over in one go, and the writer writes them in few writes
// rather than waking for the first few. It does not allocate.
func (s *Sink) WriteRecords(buf []byte, ends []int) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	b, start, added, dropped := &s.pending, 0, false, uint64(0)
	for _, end := range ends {
		p := buf[start:end]
		start = end
		switch {
		case len(p) == 0:
		case len(b.buf)+len(p) > cap(b.buf) || len(b.ends) == cap(b.ends):
			dropped++
		default:
			b.buf = append(b.buf, p...)
			b.ends = append(b.ends, len(b.buf))
			added = true
		}
	}
	if added {
		select {
		case s.wake <- true:
		default:
		}
	}
	s.mu.Unlock()
	if dropped > 0 {
		s.dropped.Add(dropped)
	}
	return nil
}

// Dropped returns how many records were dropped so far: not taken because
// the buffer was full, or not taken by a failing output.
func (s *Sink) Dropped() uint64 { return s.dropped.Load() }

// Err returns the output's last write error, or nil when its last write
// worked.
func (s *Sink) Err() error {
	if e := s.lastErr.Load(); e != nil {
		return *e
	}
	return nil
}

// Reopen opens the Sink's file again by its path, for the records written
// from now on: after logrotate renamed it, the records go to a new file
// of that name. The old file is closed once the records before the Reopen
// are written to it. A Sink made by New has no file: Reopen does nothing.
func (s *Sink) Reopen() error {
	if s.path == "" {
		return nil
	}
	f, err := openAppend(s.path)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		f.Close()
		return ErrClosed
	}
	if s.reopen != nil {
		s.reopen.Close() // two reopens before the flusher took the first
	} else {
		s.cut = len(s.pending.ends)
	}
	s.reopen = f
	select {
	case s.wake <- true:
	default:
	}
	return nil
}

// Close writes the buffered records, waiting at most Options.CloseTimeout
// for the output, stops the Sink and closes the file it opened. It returns
// ErrCloseTimeout when the output did not take them in time (a stuck pipe:
// the records are dropped, the output is left as it is), ErrClosed when
// called again.
func (s *Sink) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	close(s.wake)
	s.mu.Unlock()
	t := time.NewTimer(s.opts.CloseTimeout)
	defer t.Stop()
	select {
	case <-s.done:
		return nil
	case <-t.C:
		return ErrCloseTimeout
	}
}

// String describes the Sink for a log line: its file, or its writer.
func (s *Sink) String() string {
	if s.path != "" {
		return s.path
	}
	return fmt.Sprintf("%T", s.out)
}

func (o Options) withDefaults() Options {
	if o.Size <= 0 {
		o.Size = DefaultSize
	}
	if o.MaxWrite <= 0 {
		o.MaxWrite = DefaultMaxWrite
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = DefaultCloseTimeout
	}
	return o
}

// minRecord is the average record size below which the buffer counts as
// full by its number of records: a bound on its list of record ends.
const minRecord = 16

func newBatch(size int) batch {
	return batch{buf: make([]byte, 0, size), ends: make([]int, 0, max(size/minRecord, 64))}
}

func openAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("logsink: %w", err)
	}
	return f, nil
}

// gatherDelay is how long the writer lets records gather after a write
// before it takes the next batch: under a steady flow of records (a busy
// proxy's access log) it writes a few large batches a second, about 200,
// rather than waking for every handful, which costs the process more CPU
// than the writes. A record waits at most that much longer; at the
// default buffer size, only a flow over 50 MB/s fills it meanwhile.
const gatherDelay = 5 * time.Millisecond

// flush is the Sink's goroutine: it swaps the pending batch for its spare
// one and writes it out, until Close.
func (s *Sink) flush() {
	defer close(s.done)
	for open := true; open; {
		_, open = <-s.wake
		s.mu.Lock()
		s.pending, s.spare = s.spare, s.pending
		next, cut := s.reopen, s.cut
		s.reopen = nil
		s.mu.Unlock()
		if next == nil {
			s.write(&s.spare, 0, len(s.spare.ends))
		} else {
			s.write(&s.spare, 0, cut)
			s.switchTo(next)
			s.write(&s.spare, cut, len(s.spare.ends))
		}
		s.spare.buf, s.spare.ends = s.spare.buf[:0], s.spare.ends[:0]
		if open {
			time.Sleep(gatherDelay)
		}
	}
	if s.file != nil {
		s.file.Close()
	}
}

// write writes the records from..to-1 of b, grouped into writes of at most
// MaxWrite bytes; the records of a failed write are dropped.
func (s *Sink) write(b *batch, from, to int) {
	start, i := 0, from
	if from > 0 {
		start = b.ends[from-1]
	}
	for i < to {
		j := i + 1 // records i..j-1 go in one write: at least one, at most MaxWrite bytes unless alone
		for j < to && b.ends[j]-start <= s.opts.MaxWrite {
			j++
		}
		end := b.ends[j-1]
		_, err := s.out.Write(b.buf[start:end])
		if err != nil {
			s.dropped.Add(uint64(j - i))
			stored := err // a copy: only a failed write allocates the error kept
			s.lastErr.Store(&stored)
		} else if s.lastErr.Load() != nil {
			s.lastErr.Store(nil)
		}
		start, i = end, j
	}
}

// switchTo makes f the output, closing the file it replaces.
func (s *Sink) switchTo(f *os.File) {
	if s.file != nil {
		s.file.Close()
	}
	s.out, s.file = f, f
}
