package deploy

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestRequest_Normalize(t *testing.T) {
	for _, tt := range []struct {
		in, want Request
		ok       bool
	}{
		{Request{}, Request{TriggerSource: TriggerAPI}, true},
		{Request{DesiredImage: " web:v2\n", TriggerSource: TriggerS3dock}, Request{DesiredImage: "web:v2", TriggerSource: TriggerS3dock}, true},
		{Request{TriggerSource: TriggerManual}, Request{TriggerSource: TriggerManual}, true},
		{Request{TriggerSource: TriggerConfig}, Request{}, false}, // only the first start deploys with config
		{Request{TriggerSource: "cron"}, Request{}, false},
	} {
		r := tt.in
		err := r.Normalize()
		if (err == nil) != tt.ok || (tt.ok && r != tt.want) {
			t.Errorf("%+v: got %+v, %v", tt.in, r, err)
		}
		if err != nil && (ErrorCode(err) != EINVALID || !strings.Contains(err.Error(), "s3dock, manual, api")) {
			t.Errorf("%+v: error %v", tt.in, err)
		}
	}
}

func TestDeployment_End(t *testing.T) {
	start := time.Date(2025, 6, 30, 10, 0, 0, 0, time.UTC)
	d := Deployment{StartedAt: start, Status: StatusHealthChecking}
	if d.Done() {
		t.Fatal("running deployment is done")
	}
	d.End(StatusRolledBack, "unhealthy", start.Add(1500*time.Millisecond))
	if !d.Done() || d.DurationMS != 1500 || d.Error != "unhealthy" || !d.CompletedAt.Equal(start.Add(1500*time.Millisecond)) {
		t.Fatalf("%+v", d)
	}
}

// The wire shapes are docs/api.md, "Shapes": field names as the API has always sent them.
func TestWireShapes(t *testing.T) {
	b, _ := json.Marshal(AppStatus{Connections: map[Color]Connections{Blue: {HTTP: 1}}})
	for _, key := range []string{`"name"`, `"status"`, `"active_color"`, `"current_image"`, `"desired_image"`, `"ports"`,
		`"containers":{"blue":null,"green":null}`, `"deployment":null`, `"last_deployment":null`, `"stats"`,
		`"connections":{"blue":{"http":1,"websocket":0}}`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("AppStatus lacks %s: %s", key, b)
		}
	}
	b, _ = json.Marshal(Deployment{Color: Green, TriggerSource: TriggerS3dock, Status: StatusCompleted})
	for _, key := range []string{`"deployment_id"`, `"app"`, `"from_image"`, `"to_image"`, `"color":"green"`,
		`"trigger_source":"s3dock"`, `"status":"completed"`, `"error"`, `"logs"`, `"started_at"`, `"completed_at"`,
		`"duration_ms"`, `"phases"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("Deployment lacks %s: %s", key, b)
		}
	}
	b, _ = json.Marshal(Response{DeploymentID: 3, Status: AnswerQueued})
	if string(b) != `{"deployment_id":3,"status":"queued"}` {
		t.Errorf("Response %s", b)
	}
}
