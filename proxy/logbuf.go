package proxy

import (
	"sync"
	"time"
)

// A proxy's access log records reach the sink in batches: a request
// copies its record into its proxy's buffer, under the proxy's own lock,
// and a timer hands the buffer to the sink logFlushDelay later, one Write
// per record; a request whose record does not fit hands the buffer over
// first. So a request takes the sink's lock (one sink, and one lock, for
// all apps) only when it finds the buffer full, and the sink's writer
// wakes about once per batch rather than once per record.

// Bounds of a proxy's record buffer.
const (
	// logFlushDelay is how long a record may wait in the buffer.
	logFlushDelay = 10 * time.Millisecond
	// logBufSize is the buffer's size; a record that does not fit makes
	// the request that brings it flush the buffer first.
	logBufSize = 16 << 10
)

// batchSink is a Sink that takes a batch of records in one call
// (internal/logsink's): a flush then takes its lock and wakes its writer
// once, not once per record.
type batchSink interface {
	WriteRecords(buf []byte, ends []int) error
}

// logBuffer gathers one proxy's records for its sink.
type logBuffer struct {
	sink Sink

	mu    sync.Mutex
	buf   []byte // records back to back; nil until the first
	ends  []int  // where each ends in buf
	armed bool   // the timer will flush
	timer *time.Timer

	flushMu   sync.Mutex // one flush at a time, so that batches keep their order
	spareBuf  []byte     // the other buffer: the batch being written
	spareEnds []int
}

func newLogBuffer(sink Sink) *logBuffer {
	lb := &logBuffer{sink: sink}
	lb.timer = time.AfterFunc(time.Hour, lb.flush)
	lb.timer.Stop()
	return lb
}

// add copies rec, one whole record, into the buffer.
func (lb *logBuffer) add(rec []byte) {
	if len(rec) > logBufSize {
		lb.flush()
		lb.sink.Write(rec) // larger than the buffer: alone, after what came before it
		return
	}
	lb.mu.Lock()
	if lb.buf == nil {
		lb.buf, lb.ends = make([]byte, 0, logBufSize), make([]int, 0, logBufSize/64)
		lb.spareBuf, lb.spareEnds = make([]byte, 0, logBufSize), make([]int, 0, logBufSize/64)
	}
	for len(lb.buf)+len(rec) > cap(lb.buf) || len(lb.ends) == cap(lb.ends) {
		lb.mu.Unlock()
		lb.flush() // full: this request hands the batch over (the sink never blocks)
		lb.mu.Lock()
	}
	lb.buf = append(lb.buf, rec...)
	lb.ends = append(lb.ends, len(lb.buf))
	if !lb.armed {
		lb.armed = true
		lb.timer.Reset(logFlushDelay)
	}
	lb.mu.Unlock()
}

// flush hands the buffered records to the sink: in one call when it takes
// batches, else one Write each.
func (lb *logBuffer) flush() {
	lb.flushMu.Lock()
	defer lb.flushMu.Unlock()
	lb.mu.Lock()
	buf, ends := lb.buf, lb.ends
	lb.buf, lb.ends = lb.spareBuf, lb.spareEnds
	lb.armed = false
	lb.mu.Unlock()
	if bs, ok := lb.sink.(batchSink); ok {
		bs.WriteRecords(buf, ends)
	} else {
		start := 0
		for _, end := range ends {
			lb.sink.Write(buf[start:end])
			start = end
		}
	}
	lb.spareBuf, lb.spareEnds = buf[:0], ends[:0]
}
