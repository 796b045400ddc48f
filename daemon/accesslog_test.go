package daemon

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/internal/logsink"
	"github.com/bluegreen/bluegreen/proxy"
)

func TestOpenAccessLog(t *testing.T) {
	var logOut bytes.Buffer
	out := logsink.New(&logOut, logsink.Options{})
	defer out.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	t.Run("without --access-log: the log output, in its format", func(t *testing.T) {
		for format, want := range map[string]proxy.LogFormat{"text": proxy.LogText, "json": proxy.LogJSON} {
			al, err := openAccessLog(Options{LogFormat: format}, out)
			if err != nil || al.sink != out || al.format != want {
				t.Fatalf("%s: %+v, %v", format, al, err)
			}
			al.reopen(log) // nothing to reopen
			al.close(log)  // the log output is Run's to close
			if _, err := out.Write([]byte("still open\n")); err != nil {
				t.Fatalf("%s: the log output was closed: %v", format, err)
			}
		}
	})

	t.Run("a file, appended, reopened after logrotate moved it", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "access.log")
		if err := os.WriteFile(path, []byte("before\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		al, err := openAccessLog(Options{LogFormat: "json", AccessLog: path}, out)
		if err != nil || al.sink == out || al.format != proxy.LogJSON {
			t.Fatalf("%+v, %v", al, err)
		}
		al.sink.Write([]byte("one\n"))
		waitContent(t, path, "before\none\n")
		if err := os.Rename(path, path+".1"); err != nil {
			t.Fatal(err)
		}
		al.sink.Write([]byte("two\n")) // still to the moved file: it was written before the reopen
		al.reopen(log)
		al.sink.Write([]byte("three\n"))
		al.close(log)
		al.close(log) // twice is fine
		waitContent(t, path+".1", "before\none\ntwo\n")
		waitContent(t, path, "three\n")
	})

	t.Run("a file that cannot be opened", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "no", "such", "dir", "access.log")
		_, err := openAccessLog(Options{AccessLog: path}, out)
		if err == nil || !strings.HasPrefix(err.Error(), "--access-log "+path+": ") {
			t.Fatalf("err = %v", err)
		}
	})
}

// waitContent waits until the file at path holds want.
func waitContent(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if string(b) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %q, want %q", filepath.Base(path), b, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
