package testimage

import (
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// Registry starts an in-memory OCI registry in this process on 127.0.0.1:0
// and returns its address "127.0.0.1:PORT". The Docker daemon pulls from and
// pushes to it without TLS (Docker treats 127.0.0.0/8 as insecure). It is
// closed by t.Cleanup.
func Registry(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testimage: registry: %v", err)
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("testimage: registry: %v", err)
		}
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return ln.Addr().String()
}

// Push tags localTag as remoteRef (like "127.0.0.1:PORT/app:v1") and pushes
// it. The local remoteRef tag is removed by t.Cleanup.
func Push(t testing.TB, localTag, remoteRef string) {
	t.Helper()
	t.Cleanup(func() { RemoveImage(t, remoteRef) })
	if _, err := docker("tag", localTag, remoteRef); err != nil {
		t.Fatalf("testimage: push %s: %v", remoteRef, err)
	}
	if _, err := docker("push", remoteRef); err != nil {
		t.Fatalf("testimage: push %s: %v", remoteRef, err)
	}
}
