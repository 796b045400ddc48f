// Package handover passes a running `bluegreen serve`'s listening sockets to
// the process that replaces it (docs/upgrades.md), the way nginx's binary
// upgrade does: the old process starts the executable with every listening
// socket as an inherited file descriptor and a pipe; the new one serves on
// those sockets and writes "ready" to the pipe once it serves; only then does
// the old one stop accepting. Because both hold the same sockets, the kernel
// keeps queueing connections on them from start to end: none is refused.
//
// The old process's side is Start (start.go); the new one's is FromEnv and
// Inherited (this file); Listeners (listeners.go) is the set of sockets a
// process listens on, opened fresh or taken over, that an upgrade hands on;
// StandIn and Link (standin.go) tie the serving processes to the stand-in,
// the process a user started, when no service manager runs serve.
//
// The protocol, between two builds of the same program: the environment
// variable BLUEGREEN_HANDOVER holds JSON naming the descriptors (the ready
// pipe and one per listener, keyed like "tcp:0.0.0.0:8000" or
// "unix:/run/bluegreen/api.sock"), the stand-in's link if there is one, and
// the old process's pid and version. The
// new process writes lines to the pipe: "log <line>" for each line it logs
// until it is ready (so a failure can quote them), then "ready" or
// "fail <reason>", and closes it.
package handover

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
)

// Env is the environment variable that tells a process it takes over from
// another one, and which descriptors it inherits.
const Env = "BLUEGREEN_HANDOVER"

// state is the JSON in Env.
type state struct {
	Ready         int            `json:"ready"`     // descriptor of the ready pipe's write end
	Listeners     map[string]int `json:"listeners"` // key → descriptor
	ParentPID     int            `json:"parent_pid"`
	ParentVersion string         `json:"parent_version"`
	StandIn       int            `json:"stand_in,omitempty"` // descriptor of the link to the stand-in (standin.go); 0: none
}

// Pipe messages, one per line.
const (
	msgLog   = "log "
	msgReady = "ready"
	msgFail  = "fail "
)

// Inherited is what a process started by an upgrade got from the process it
// replaces. Its methods do nothing on a nil *Inherited (a normal start).
type Inherited struct {
	ParentPID     int    // the old process
	ParentVersion string // its version

	mu        sync.Mutex
	ready     *os.File // the pipe; nil once ready or failed
	listeners map[string]*os.File
	standIn   *Link
}

// FromEnv reads Env: nil (and no error) for a normal start. It unsets Env, so
// processes this one starts do not see it, and it marks the inherited
// descriptors close-on-exec.
func FromEnv() (*Inherited, error) {
	v, ok := os.LookupEnv(Env)
	if !ok {
		return nil, nil
	}
	os.Unsetenv(Env)
	var s state
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return nil, fmt.Errorf("%s: %w (it is set by bluegreen for the process it starts on an upgrade; unset it)", Env, err)
	}
	in := &Inherited{ParentPID: s.ParentPID, ParentVersion: s.ParentVersion, listeners: map[string]*os.File{}}
	if s.Ready > 2 {
		in.ready = inheritedFile(s.Ready, "handover-ready")
	}
	for key, fd := range s.Listeners {
		if fd <= 2 {
			return nil, fmt.Errorf("%s: listener %s on descriptor %d: want 3 or more", Env, key, fd)
		}
		in.listeners[key] = inheritedFile(fd, key)
	}
	if s.StandIn > 2 {
		link, err := newLink(inheritedFile(s.StandIn, "stand-in-link"))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", Env, err)
		}
		in.standIn = link
	}
	return in, nil
}

// StandIn returns the link to the stand-in, the process the user started
// that stands in for the serving processes (docs/upgrades.md, "The
// stand-in"); nil when there is none (under systemd, on a normal start).
func (in *Inherited) StandIn() *Link {
	if in == nil {
		return nil
	}
	return in.standIn
}

// inheritedFile wraps a descriptor this process inherited and sets it
// close-on-exec, as every descriptor Go opens is.
func inheritedFile(fd int, name string) *os.File {
	syscall.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), name)
}

// Listeners returns the set of listeners that starts with the inherited ones
// (a new set on a nil *Inherited).
func (in *Inherited) Listeners() *Listeners {
	l := NewListeners()
	if in == nil {
		return l
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	for key, f := range in.listeners {
		l.inherited[key] = f
	}
	in.listeners = nil
	return l
}

// LogWriter returns w, which on an upgrade also copies each line written to
// it to the old process until Ready or Fail: the old one quotes the last
// lines when the new one fails.
func (in *Inherited) LogWriter(w io.Writer) io.Writer {
	if in == nil {
		return w
	}
	return &teeWriter{w: w, in: in}
}

// Ready tells the old process that this one serves: it stops accepting and
// exits. A write error (the old process is gone) is returned for logging;
// this process serves on either way.
func (in *Inherited) Ready() error {
	return in.finish(msgReady)
}

// Fail tells the old process why this one cannot take over; it keeps
// serving.
func (in *Inherited) Fail(err error) error {
	return in.finish(msgFail + oneLine(err.Error()))
}

func (in *Inherited) finish(msg string) error {
	if in == nil {
		return nil
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.ready == nil {
		return nil
	}
	_, err := io.WriteString(in.ready, msg+"\n")
	if cerr := in.ready.Close(); err == nil {
		err = cerr
	}
	in.ready = nil
	if err != nil {
		return fmt.Errorf("tell the old process: %w", err)
	}
	return nil
}

// open reports whether the pipe to the old process is still open.
func (in *Inherited) open() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.ready != nil
}

// logLine sends one log line to the old process while the pipe is open.
func (in *Inherited) logLine(line string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.ready == nil {
		return
	}
	if _, err := io.WriteString(in.ready, msgLog+oneLine(line)+"\n"); err != nil {
		in.ready.Close() // the old process is gone: nobody reads
		in.ready = nil
	}
}

// teeWriter writes to w and copies each whole line to the old process.
type teeWriter struct {
	w  io.Writer
	in *Inherited

	mu   sync.Mutex
	part []byte // a line not yet ended
	done bool   // the pipe is closed: w alone
}

func (t *teeWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return n, err
	}
	if !t.in.open() {
		t.done, t.part = true, nil // ready or failed: nothing more to copy
		return n, err
	}
	t.part = append(t.part, p...)
	for {
		i := bytes.IndexByte(t.part, '\n')
		if i < 0 {
			break
		}
		t.in.logLine(string(t.part[:i]))
		t.part = t.part[i+1:]
	}
	if len(t.part) > maxLine {
		t.in.logLine(string(t.part[:maxLine]))
		t.part = t.part[:0]
	}
	return n, err
}

// maxLine bounds one line on the pipe; longer ones are cut.
const maxLine = 4 << 10

// oneLine makes s fit one pipe line.
func oneLine(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	if len(s) > maxLine {
		s = s[:maxLine]
	}
	return s
}

// readLine reads one line of at most maxLine bytes; the rest of a longer
// line is dropped.
func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		if err != nil {
			return "", err
		}
		if len(b) < maxLine {
			b = append(b, chunk[:min(len(chunk), maxLine-len(b))]...)
		}
		if !isPrefix {
			return string(b), nil
		}
	}
}
