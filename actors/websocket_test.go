package actors

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/bluegreen/bluegreen/deploy"
)

// TestSystem_WebSocketDrainsOnDeploy opens a WebSocket through the proxy, then
// deploys: the socket keeps echoing from the old container during the drain
// and is closed with 1001 at websocket_drain_timeout, after which the old
// container stops and the deployment completes.
func TestSystem_WebSocketDrainsOnDeploy(t *testing.T) {
	buildImages(t)
	app := newTestApp(t, imgV1)
	app.websocketDrain = "2s"
	app.drain = "5s"
	h := newHarness(t, app)
	h.waitStable(app.name, imgV1, 60*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/ws", app.proxy), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	echo := func(msg string) error {
		if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			return err
		}
		_, b, err := ws.Read(ctx)
		if err != nil {
			return err
		}
		if string(b) != msg {
			return fmt.Errorf("echo %q, want %q", b, msg)
		}
		return nil
	}
	if err := echo("before"); err != nil {
		t.Fatal(err)
	}
	var r deploy.Response
	if code := h.post("/api/apps/"+app.name+"/deploy", deploy.Request{DesiredImage: imgV2}, &r); code != 202 {
		t.Fatalf("deploy: %d", code)
	}
	// Wait for the switch, then keep talking over the old socket.
	var switched time.Time
	eventually(t, 30*time.Second, func() bool {
		d, err := h.sys.Deployment(context.Background(), r.DeploymentID)
		if err == nil && d.Status == deploy.StatusDraining {
			switched = time.Now()
			return true
		}
		return false
	}, func() string { return "the deployment never reached draining" })
	if st := h.status(app.name); st.Connections[deploy.Blue].WebSocket != 1 {
		t.Errorf("connections during drain = %+v, want one blue WebSocket", st.Connections)
	}
	for i := 0; ; i++ {
		err := echo(fmt.Sprintf("during drain %d", i))
		if err == nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		closedAfter := time.Since(switched)
		if status := websocket.CloseStatus(err); status != websocket.StatusGoingAway {
			t.Fatalf("socket ended with %v (close status %d), want 1001 going away", err, status)
		}
		if i == 0 {
			t.Fatal("the socket did not work during the drain")
		}
		if closedAfter < 1500*time.Millisecond || closedAfter > 3500*time.Millisecond {
			t.Fatalf("closed %s after the switch, want about websocket_drain_timeout (2s)", closedAfter)
		}
		t.Logf("old socket echoed %d messages during the drain, closed with 1001 after %s", i, closedAfter.Round(time.Millisecond))
		break
	}
	d := h.wait(r.DeploymentID, 30*time.Second)
	if d.Status != deploy.StatusCompleted {
		t.Fatalf("deployment = %+v", d)
	}
	ws2, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/ws", app.proxy), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws2.CloseNow()
	ws = ws2
	if err := echo("after"); err != nil {
		t.Fatalf("a new socket after the deploy: %v", err)
	}
	if st := h.status(app.name); st.Connections[deploy.Green].WebSocket != 1 {
		t.Errorf("connections after = %+v, want one green WebSocket", st.Connections)
	}
}
