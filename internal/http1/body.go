package http1

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
	"sync"
)

// Body copying between the client and the upstream connection. Copies go
// straight from one bufio.Reader's buffer into the other side's
// bufio.Writer; the writer is flushed whenever the reader has nothing
// buffered, so streamed data (events, chunks) is passed on as it arrives,
// and a burst that arrived together leaves in one write.

// CopyN copies exactly n bytes. rerr is a failure of src, werr of dst.
func CopyN(dst *bufio.Writer, src *bufio.Reader, n int64) (rerr, werr error) {
	for n > 0 {
		if src.Buffered() == 0 {
			if werr = dst.Flush(); werr != nil {
				return nil, werr
			}
			if _, rerr = src.Peek(1); rerr != nil {
				if rerr == io.EOF {
					rerr = io.ErrUnexpectedEOF
				}
				return rerr, nil
			}
		}
		b, _ := src.Peek(int(min(n, int64(src.Buffered()))))
		if _, werr = dst.Write(b); werr != nil {
			return nil, werr
		}
		src.Discard(len(b))
		n -= int64(len(b))
	}
	return nil, nil
}

// CopyAll copies until src ends (a body delimited by the connection close).
func CopyAll(dst *bufio.Writer, src *bufio.Reader) (rerr, werr error) {
	for {
		if src.Buffered() == 0 {
			if werr = dst.Flush(); werr != nil {
				return nil, werr
			}
			if _, rerr = src.Peek(1); rerr != nil {
				if rerr == io.EOF {
					return nil, nil
				}
				return rerr, nil
			}
		}
		b, _ := src.Peek(src.Buffered())
		if _, werr = dst.Write(b); werr != nil {
			return nil, werr
		}
		src.Discard(len(b))
	}
}

// CopyChunked copies a chunked body (RFC 9112 §7.1), validating every
// chunk-size line and the CRLF after each chunk. It writes the chunks
// re-encoded without extensions and the trailer section as received; with
// dechunk it writes only the data (for an HTTP/1.0 client).
func CopyChunked(dst *bufio.Writer, src *bufio.Reader, dechunk bool) (rerr, werr error) {
	return CopyChunkedMax(dst, src, dechunk, 0)
}

// CopyChunkedMax is CopyChunked for a body of at most limit data bytes
// (0: no limit): a chunk that would take it past limit is not copied, and
// rerr is ErrBodyTooLarge.
func CopyChunkedMax(dst *bufio.Writer, src *bufio.Reader, dechunk bool, limit int64) (rerr, werr error) {
	var excess int64 // non-data bytes beyond an allowance, as net/http counts them
	var total uint64 // data bytes
	var num [20]byte
	for {
		if werr = flushBeforeWait(dst, src, 0); werr != nil {
			return nil, werr
		}
		line, err := readChunkLine(src)
		if err != nil {
			return err, nil
		}
		excess += int64(len(line)) + 2
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, ok := parseChunkSize(line)
		if !ok {
			return ErrBadChunk, nil
		}
		excess = max(excess-16-2*int64(n), 0)
		if excess > 16<<10 {
			return ErrBadChunk, nil
		}
		if n == 0 {
			return copyTrailer(dst, src, dechunk)
		}
		if total += n; limit > 0 && total > uint64(limit) {
			return ErrBodyTooLarge, nil
		}
		if !dechunk {
			dst.Write(strconv.AppendUint(num[:0], n, 16))
			dst.WriteString("\r\n")
		}
		if rerr, werr = CopyN(dst, src, int64(n)); rerr != nil || werr != nil {
			return rerr, werr
		}
		if werr = flushBeforeWait(dst, src, 2); werr != nil {
			return nil, werr
		}
		crlf, err := src.Peek(2)
		if err != nil {
			return io.ErrUnexpectedEOF, nil
		}
		if crlf[0] != '\r' || crlf[1] != '\n' {
			return ErrBadChunk, nil
		}
		src.Discard(2)
		if !dechunk {
			dst.WriteString("\r\n")
		}
	}
}

// copyTrailer copies the trailer section after the last chunk: strict
// field lines up to the empty line, within MaxChunkLine bytes in all.
func copyTrailer(dst *bufio.Writer, src *bufio.Reader, dechunk bool) (rerr, werr error) {
	if !dechunk {
		dst.WriteString("0\r\n")
	}
	total := 0
	for {
		if werr = flushBeforeWait(dst, src, 0); werr != nil {
			return nil, werr
		}
		line, err := readChunkLine(src)
		if err != nil {
			return err, nil
		}
		total += len(line) + 2
		if total > MaxChunkLine-96 {
			return ErrBadChunk, nil
		}
		if len(line) == 0 {
			break
		}
		if !validFieldLine(line) {
			return ErrBadChunk, nil
		}
		if !dechunk {
			dst.Write(line)
			dst.WriteString("\r\n")
		}
	}
	if !dechunk {
		dst.WriteString("\r\n")
	}
	return nil, dst.Flush()
}

// flushBeforeWait flushes dst when reading the next n bytes (n 0: the next
// line) from src would block, so that nothing already received waits in dst.
func flushBeforeWait(dst *bufio.Writer, src *bufio.Reader, n int) error {
	if dst.Buffered() == 0 {
		return nil
	}
	b, _ := src.Peek(src.Buffered())
	if n > 0 && len(b) >= n || n == 0 && bytes.IndexByte(b, '\n') >= 0 {
		return nil
	}
	return dst.Flush()
}

// readChunkLine reads one CRLF-terminated line (without the CRLF); a bare
// LF or CR and lines of MaxChunkLine bytes or more are refused.
func readChunkLine(src *bufio.Reader) ([]byte, error) {
	p, err := src.ReadSlice('\n')
	if err != nil {
		if err == io.EOF {
			return nil, io.ErrUnexpectedEOF
		}
		if err == bufio.ErrBufferFull {
			return nil, ErrBadChunk
		}
		return nil, err
	}
	if len(p) >= MaxChunkLine-96 || len(p) < 2 || p[len(p)-2] != '\r' || bytes.IndexByte(p[:len(p)-2], '\r') >= 0 {
		return nil, ErrBadChunk
	}
	return p[:len(p)-2], nil
}

// parseChunkSize parses 1 to 16 hex digits and nothing else.
func parseChunkSize(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		n = n<<4 | uint64(c)
	}
	return n, n < 1<<62
}

// validFieldLine checks a trailer field line as fieldLine checks header
// fields.
func validFieldLine(line []byte) bool {
	colon := bytes.IndexByte(line, ':')
	if colon < 1 || !IsToken(line[:colon]) {
		return false
	}
	return validValue(line[colon+1:])
}

// scanners are the readers and writers CheckChunked and DiscardChunked run
// CopyChunked with.
var scanners = sync.Pool{New: func() any {
	return &scanner{br: bufio.NewReaderSize(nil, 8<<10), bw: bufio.NewWriterSize(io.Discard, 512)}
}}

type scanner struct {
	r  bytes.Reader
	br *bufio.Reader
	bw *bufio.Writer
}

// DiscardChunked reads a chunked body from src to its end by the rules of
// CopyChunked, trailer included, and drops it: a health check's way to
// reuse its connection after an answer whose body it does not need. The
// caller bounds src.
func DiscardChunked(src *bufio.Reader) error {
	s := scanners.Get().(*scanner)
	defer scanners.Put(s)
	s.bw.Reset(io.Discard)
	rerr, _ := CopyChunked(s.bw, src, true)
	return rerr
}

// CheckChunked checks the start of a chunked body, b (what has arrived so
// far), by the very rules of CopyChunked: nil when b holds the whole body
// and it is valid, ErrBadChunk when b already breaks the syntax, and
// io.ErrUnexpectedEOF when b is a valid start of a longer body. A proxy
// that checks what it has before it forwards anything sends nothing of a
// request that arrived whole but malformed.
func CheckChunked(b []byte) error {
	s := scanners.Get().(*scanner)
	defer scanners.Put(s)
	s.r.Reset(b)
	s.br.Reset(&s.r)
	s.bw.Reset(io.Discard)
	rerr, _ := CopyChunked(s.bw, s.br, true)
	s.br.Reset(nil)
	s.r.Reset(nil)
	return rerr
}
