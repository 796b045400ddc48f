package actors

import (
	"context"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
)

// Messages the bridge routes to an app actor. Each names its app so the
// bridge can route it; the app actor answers each exactly once.

// Deploy asks an app to deploy Image ("" = a new deployment of the current
// image); Trigger is set (deploy.Request.Normalize).
type Deploy struct {
	App     string
	Image   string
	Trigger deploy.Trigger
}

// Rollback asks an app to deploy the image of the last completed deployment
// before the current one, as asked by Trigger.
type Rollback struct {
	App     string
	Trigger deploy.Trigger
}

// Switch asks an app to move traffic to the other color's container.
type Switch struct {
	App   string
	Color deploy.Color
}

// DeployReply answers Deploy, Rollback and Switch.
type DeployReply struct {
	Response deploy.Response
	Err      error
}

// GetStatus asks an app for its live status.
type GetStatus struct{ App string }

// StatusReply answers GetStatus.
type StatusReply struct {
	Status deploy.AppStatus
	Err    error
}

// GetActiveContainer asks an app for its active container's ID (for logs).
type GetActiveContainer struct{ App string }

// ContainerReply answers GetActiveContainer.
type ContainerReply struct {
	ID  string
	Err error
}

// SetTraffic asks an app to pause, go into maintenance or resume
// (docs/traffic.md); the change is checked (deploy.TrafficChange.Check).
type SetTraffic struct {
	App    string
	Change deploy.TrafficChange
}

// TrafficReply answers SetTraffic.
type TrafficReply struct{ Err error }

// appMessage is any message addressed to one app.
type appMessage interface{ appName() string }

func (m Deploy) appName() string             { return m.App }
func (m Rollback) appName() string           { return m.App }
func (m Switch) appName() string             { return m.App }
func (m GetStatus) appName() string          { return m.App }
func (m GetActiveContainer) appName() string { return m.App }
func (m SetTraffic) appName() string         { return m.App }

// Messages to the supervisor.

// Reload asks the supervisor to re-read the app configs.
type Reload struct{}

// ReloadReply answers Reload.
type ReloadReply struct {
	Result deploy.ReloadResult
	Err    error
}

// ListApps asks the supervisor for the names of its apps.
type ListApps struct{}

// AppsReply answers ListApps.
type AppsReply struct{ Names []string }

// Internal messages: the supervisor's and the bridge's.

// setBridge tells the supervisor which bridge to keep informed of app PIDs.
type setBridge struct{ pid *actor.PID }

// appsChanged tells the bridge where each app actor lives now.
type appsChanged struct{ apps map[string]*actor.PID }

// updateConfig gives an app actor a changed config (reload).
type updateConfig struct{ cfg *config.App }

// retire tells an app actor that it is stopped for good (its config was removed).
type retire struct{}

// respawn asks the supervisor to spawn an app actor again after a failure.
type respawn struct{ name string }

// pruneTick asks the supervisor to prune old health checks (checks.go).
type pruneTick struct{}

// pruneDone reports the end of a prune.
type pruneDone struct{}

// The reconcile (reconcile.go) and the Docker event stream (events.go).

// reconcileAll is the supervisor's reconcile tick.
type reconcileAll struct{}

// listedAll is what the supervisor's list found.
type listedAll struct {
	containers []docker.Container
	err        error
	events     map[string]uint64 // the events forwarded per app when the list began
}

// listed carries an app's entries of the supervisor's list.
type listed struct {
	containers []docker.Container
	err        error
	fresh      bool // no event of the app was forwarded while the list was read
}

// reconcileTick asks an app actor to re-read its containers from Docker.
type reconcileTick struct{}

// containerEvent is a Docker event of one of an app's containers.
type containerEvent struct{ ev docker.Event }

// dockerResync tells an app actor that the event stream was down: its view
// of the containers may be stale.
type dockerResync struct{}

// What an app actor's own work in the background reports (inspect.go,
// exits.go); a deployment run's steps report a stepDone (runstate.go).

// adoptResult reports the app's containers as Docker listed them at start.
type adoptResult struct {
	containers []docker.Container
	err        error
}

// reconcileResult reports the containers of both colors.
type reconcileResult struct {
	containers map[deploy.Color]*docker.Container // nil entry: no such container
	err        error
	// seen is the count of each color's events the actor had taken when
	// the read began: a color with more since may be read from before one.
	seen [2]uint64
}

// opDone reports the end of a background container operation outside a deployment.
type opDone struct {
	what  string // opStart or opRemove
	color deploy.Color
	err   error
}

// exitInspected carries what Docker says of a container that died.
type exitInspected struct {
	color    deploy.Color
	id       string
	exitCode int
	ct       docker.Container
	err      error
}

// exitDue records an exit that Docker's inspect did not answer within exitGrace.
type exitDue struct {
	color    deploy.Color
	id       string
	exitCode int
}

// reviveDue asks the app actor to start its dead active container, unless
// Docker did meanwhile.
type reviveDue struct{ gen uint64 }

// reviveInspected carries Docker's view of a dead active container when its
// restart is due.
type reviveInspected struct {
	gen uint64
	ct  docker.Container
	err error
}

// retryDue asks the app actor to deploy again what failed while nothing
// served it (retry.go).
type retryDue struct{ gen uint64 }

// The single-driver rule of an upgrade (pause.go).

type (
	// pause tells the supervisor to stop driving; it answers pauseReply.
	pause struct{}
	// pauseReply names the app actors and how long each may take to go quiet.
	pauseReply struct{ apps map[string]pausedApp }
	pausedApp  struct {
		pid   *actor.PID
		bound time.Duration
	}
	// resume tells the supervisor to drive again.
	resume struct{}
	// setPaused tells an app actor to stop (or resume) driving.
	setPaused struct{ on bool }
	// awaitQuiet asks a paused app actor to answer (quietReply) once it no
	// longer drives: its deployments ended and its Docker work stopped.
	awaitQuiet struct{}
	quietReply struct{ err error }
	// quietTimeout ends a wait for deployments that overran their bound.
	quietTimeout struct{ gen uint64 }
	// awaitReady asks an app actor to answer (readyReply) once its first
	// adoption answered (or failed): its proxy routes to what runs.
	awaitReady struct{}
	readyReply struct{}
	// listPIDs asks the supervisor for its app actors.
	listPIDs  struct{}
	pidsReply struct{ apps map[string]*actor.PID }
	// shutdownTo asks an app actor to stop its Docker work for good and
	// drain its proxy within ctx; it answers shutdownStarted.
	shutdownTo struct {
		ctx context.Context
	}
	// shutdownStarted answers shutdownTo: done is closed once the proxy drained.
	shutdownStarted struct{ done <-chan struct{} }
)
