package actors

import (
	"testing"

	"github.com/bluegreen/bluegreen/deploy"
)

func TestHub(t *testing.T) {
	h := newHub()
	a, cancelA := h.subscribe()
	b, cancelB := h.subscribe()
	h.publish(deploy.Event{ID: 1})
	if e := <-a; e.ID != 1 {
		t.Fatalf("a got %+v", e)
	}
	if e := <-b; e.ID != 1 {
		t.Fatalf("b got %+v", e)
	}
	cancelA()
	cancelA() // twice is fine
	if _, open := <-a; open {
		t.Fatal("a canceled subscription stays open")
	}
	// A subscriber that falls behind by more than the buffer is dropped, so
	// publishing never blocks.
	for i := range subscriberBuffer + 1 {
		h.publish(deploy.Event{ID: int64(i + 2)})
	}
	n := 0
	for range b {
		n++
	}
	if n != subscriberBuffer {
		t.Fatalf("the slow subscriber got %d events before its channel closed", n)
	}
	cancelB()
}
