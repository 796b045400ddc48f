// Package sdnotify tells systemd about the state of the service
// (sd_notify(3)) without cgo: one unix datagram to the socket named by
// $NOTIFY_SOCKET, a path or, starting with '@', an abstract socket.
//
// Outside systemd (NOTIFY_SOCKET unset) every call does nothing and reports
// sent == false, so callers need no check of their own. A unit with
// Type=notify waits for Ready; ReadyWithMainPID lets a process started by the
// main one take its place (the unit needs NotifyAccess=all for that).
package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// SocketEnv is the environment variable that names systemd's notify socket.
const SocketEnv = "NOTIFY_SOCKET"

// States understood by systemd (sd_notify(3)).
const (
	StateReady     = "READY=1"
	StateReloading = "RELOADING=1"
	StateStopping  = "STOPPING=1"
)

// writeTimeout bounds one send: systemd reads its socket at once, a peer
// that does not must not block the caller.
const writeTimeout = 2 * time.Second

// ErrUnsupportedSocket is returned for a NOTIFY_SOCKET that is neither an
// absolute path nor an abstract name (such as systemd's vsock: addresses).
var ErrUnsupportedSocket = errors.New("sdnotify: unsupported NOTIFY_SOCKET address")

// Notify sends state, one or more "KEY=VALUE" lines separated by '\n', to
// $NOTIFY_SOCKET. It returns sent == false and no error when NOTIFY_SOCKET is
// unset or empty, and an error when the socket cannot be reached.
func Notify(state string) (sent bool, err error) {
	addr := os.Getenv(SocketEnv)
	if addr == "" {
		return false, nil
	}
	if !strings.HasPrefix(addr, "/") && !strings.HasPrefix(addr, "@") {
		return false, fmt.Errorf("%w %q: want an absolute path or @name", ErrUnsupportedSocket, addr)
	}
	// A leading '@' makes Go use the abstract namespace, as systemd means it.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return false, fmt.Errorf("sdnotify: %w", err)
	}
	defer conn.Close()
	if err := conn.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return false, fmt.Errorf("sdnotify: %w", err)
	}
	if _, err := conn.Write([]byte(state)); err != nil {
		return false, fmt.Errorf("sdnotify: send to %s: %w", addr, err)
	}
	return true, nil
}

// Ready reports that startup (or a reload) is finished: READY=1.
func Ready() (bool, error) { return Notify(StateReady) }

// Stopping reports that the service is shutting down: STOPPING=1. Only the
// main process may send it: from any other process of the unit it would
// still stop the unit.
func Stopping() (bool, error) { return Notify(StateStopping) }

// Reloading reports that a reload began: RELOADING=1 with the
// CLOCK_MONOTONIC time systemd asks for. Send Ready when the reload is done.
func Reloading() (bool, error) {
	state := StateReloading
	if us, err := monotonicUsec(); err == nil {
		state += "\nMONOTONIC_USEC=" + strconv.FormatUint(us, 10)
	}
	return Notify(state)
}

// ReadyWithMainPID tells systemd, in one datagram, that pid is now the
// service's main process and that it is ready: "MAINPID=pid\nREADY=1". The
// process taking over after an upgrade sends it with its own pid once it
// serves, before the old process stops accepting.
func ReadyWithMainPID(pid int) (bool, error) {
	if pid <= 0 {
		return false, fmt.Errorf("sdnotify: MAINPID %d: want a process id", pid)
	}
	return Notify("MAINPID=" + strconv.Itoa(pid) + "\n" + StateReady)
}

// Status sets the one-line status text systemctl status shows: STATUS=s.
// Line breaks in s become spaces.
func Status(s string) (bool, error) {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	return Notify("STATUS=" + s)
}

// monotonicUsec reads CLOCK_MONOTONIC in microseconds, the clock of
// systemd's MONOTONIC_USEC.
func monotonicUsec() (uint64, error) {
	const clockMonotonic = 1 // CLOCK_MONOTONIC on Linux
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0, errno
	}
	return uint64(ts.Sec)*1e6 + uint64(ts.Nsec)/1e3, nil
}
