package api

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
)

// DefaultAddr is the management API's default address.
const DefaultAddr = "127.0.0.1:7070"

// unixPrefix marks a unix socket address ("unix:/run/bluegreen.sock").
const unixPrefix = "unix:"

// Listen opens the management API listener. addr is a loopback TCP address
// ("127.0.0.1:7070", "[::1]:7070", "localhost:7070") or "unix:/path/to.sock".
// A stale socket file is removed first and the socket is made mode 0660.
// A non-loopback TCP address is refused: the API has no authentication.
func Listen(addr string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, unixPrefix); ok {
		return listenUnix(path)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("api address %q: %w (use 127.0.0.1:7070 or unix:/path/to.sock)", addr, err)
	}
	if !isLoopbackName(host) {
		return nil, fmt.Errorf("api address %q is not a loopback address: the management API has no authentication and listens only on 127.0.0.1, ::1, localhost or a unix socket", addr)
	}
	if strings.EqualFold(host, "localhost") {
		// Bind the IPv4 loopback explicitly: resolving "localhost" may yield a
		// non-loopback address on a misconfigured host.
		_, port, _ := net.SplitHostPort(addr)
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return ln, nil
}

func isLoopbackName(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func listenUnix(path string) (net.Listener, error) {
	if path == "" {
		return nil, errors.New("api address \"unix:\" has no socket path (use unix:/path/to.sock)")
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("listen unix %s: file exists and is not a socket", path)
		}
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("listen unix %s: another process is listening on it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen unix %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("chmod socket %s: %w", path, err)
	}
	return ln, nil
}
