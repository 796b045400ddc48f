package handover

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// standInChild is the new process of TestStandIn_Link: it announces itself
// on the stand-in's link, reports ready, and exits 0 once the link is lost
// (7 if that does not happen within 20s).
func standInChild(in *Inherited) int {
	link := in.StandIn()
	if link == nil || link.File() == nil {
		in.Fail(fmt.Errorf("no stand-in link"))
		return 1
	}
	if err := link.Announce(os.Getpid()); err != nil {
		in.Fail(err)
		return 1
	}
	if err := in.Ready(); err != nil {
		return 1
	}
	select {
	case <-link.Lost():
		return 0
	case <-time.After(20 * time.Second):
		return 7
	}
}

// TestStandIn_Link hands the link's serving end to a new process: its
// announcement reaches the stand-in's end, and when that end closes (as
// when the stand-in dies) the new process sees the link lost.
func TestStandIn_Link(t *testing.T) {
	s, err := NewStandIn()
	if err != nil {
		t.Fatal(err)
	}
	sp := spec(t, "standin", "", nil)
	sp.StandIn = s.Serving()
	c, err := Start(context.Background(), sp)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { c.Wait() })
	select {
	case pid := <-s.Announced():
		if pid != c.Pid {
			t.Fatalf("announced pid %d, want %d", pid, c.Pid)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no announcement")
	}
	select {
	case <-c.Done():
		t.Fatalf("the new process ended while the stand-in lives: %v", c.Wait())
	case <-time.After(100 * time.Millisecond):
	}
	// The stand-in's end closes, as its death closes it; its copy of the
	// serving end does not keep the link up.
	s.conn.Close()
	select {
	case <-c.Done():
		if err := c.Wait(); err != nil {
			t.Fatalf("the new process: %v, want exit 0 (link lost)", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the new process did not see the link lost")
	}
	if _, ok := <-s.Announced(); ok {
		t.Fatal("Announced open after the link closed")
	}
}
