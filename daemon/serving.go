package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/bluegreen/bluegreen/actors"
	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
	"github.com/bluegreen/bluegreen/internal/handover"
	"github.com/bluegreen/bluegreen/internal/logsink"
	"github.com/bluegreen/bluegreen/internal/sdnotify"
	"github.com/bluegreen/bluegreen/store"
)

// serving is a running `bluegreen serve`: the store, the supervisor, the
// management API's HTTP server and the sockets it listens on.
type serving struct {
	log      *slog.Logger
	st       *store.Store
	sys      *actors.System
	rt       *docker.Client
	srv      *http.Server
	serveErr chan error
	lns      *handover.Listeners
	inh      *handover.Inherited // what an upgrade handed over; nil on a normal start
	out      *logsink.Sink       // the log's output
	access   *accessLog          // the proxies' access log (accesslog.go)
	standIn  *standIn            // this process's part as the stand-in, from its first upgrade on (standin.go)
	argv     []string
	version  string
	ctx      context.Context // serve's: its end cancels an upgrade under way

	upgrade upgradeState // upgrade.go
}

// start checks the configs, then opens the store and the API listener and
// starts the supervisor and the API. Invalid configs start nothing. The
// listeners are taken over from the old process after an upgrade (inh),
// and opened otherwise.
func start(ctx context.Context, o Options, logger *slog.Logger, inh *handover.Inherited, access *accessLog) (*serving, error) {
	load := func() ([]*config.App, error) { return config.LoadDir(o.AppsDir) }
	if _, err := load(); err != nil {
		return nil, fmt.Errorf("the app configs in %s are invalid, nothing started:\n%v", o.AppsDir, err)
	}
	rt, err := docker.New()
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
	if err := rt.Ping(pctx); err != nil {
		logger.Warn("docker unreachable: serving from the last known state until it answers", "err", err)
	}
	pcancel()
	st, err := store.Open(o.DB)
	if err != nil {
		return nil, err
	}
	lns := inh.Listeners()
	ln, err := lns.Listen(apiKey(o.API), func() (net.Listener, error) { return api.Listen(o.API) })
	if err != nil {
		lns.CloseUnclaimed()
		st.Close()
		return nil, err
	}
	listen := func(network, addr string) (net.Listener, error) {
		return lns.Listen(handover.TCPKey(addr), func() (net.Listener, error) { return net.Listen(network, addr) })
	}
	concurrency := o.DockerConcurrency
	if concurrency == 0 {
		concurrency = -1 // no bound (actors: 0 is the default)
	}
	sys, err := actors.Start(actors.Options{Load: load, Store: st, Runtime: rt, Logger: logger,
		ReconcileInterval: o.ReconcileInterval, Listen: listen, Version: o.Version, DockerConcurrency: concurrency,
		AccessLog: access.sink, AccessLogFormat: access.format})
	if err != nil {
		ln.Close()
		lns.CloseUnclaimed()
		st.Close()
		return nil, err
	}
	sv := &serving{log: logger, st: st, sys: sys, rt: rt, serveErr: make(chan error, 1), lns: lns, inh: inh,
		access: access, argv: o.Args, version: o.Version, ctx: ctx}
	sv.upgrade.done = make(chan error, 1)
	sv.srv = &http.Server{Handler: api.NewServer(backend{System: sys, sv: sv}, logger), ReadHeaderTimeout: 10 * time.Second}
	go func() { sv.serveErr <- sv.srv.Serve(ln) }()
	logger.Info("bluegreen serving", "api", o.API, "apps", o.AppsDir, "db", o.DB, "docker", rt.Endpoint(),
		"version", o.Version, "pid", os.Getpid(), "sockets_taken_over", inh != nil)
	return sv, nil
}

// apiKey is the key of the API's listener among the handed-over sockets.
func apiKey(addr string) string {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		return handover.UnixKey(path)
	}
	return handover.TCPKey(addr)
}

// ready waits (up to readyTimeout) until every app serves what runs, closes
// the sockets handed over for apps that are gone, and says so: to systemd,
// and after an upgrade also to the old process (which then stops accepting
// and exits), with the event supervisor.upgraded.
func (sv *serving) ready(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, readyTimeout)
	late := sv.sys.WaitReady(rctx)
	cancel()
	if len(late) > 0 {
		sv.log.Warn("apps not adopted within the start's bound: serving anyway", "apps", late, "bound", readyTimeout.String())
	}
	if keys := sv.lns.CloseUnclaimed(); len(keys) > 0 {
		sv.log.Info("closed the sockets handed over for apps no longer configured", "listeners", keys)
	}
	defer sv.upgrade.setReady()
	sv.announce()
	if sv.inh == nil {
		sv.notify(sdnotify.Ready)
		return
	}
	pid := os.Getpid()
	sv.notify(func() (bool, error) { return sdnotify.ReadyWithMainPID(pid) })
	sv.sys.Record(deploy.EventSupervisorUpgraded,
		fmt.Sprintf("supervisor upgraded: pid %d (%s) serves in place of pid %d (%s)", pid, sv.version, sv.inh.ParentPID, sv.inh.ParentVersion),
		map[string]any{"old_pid": sv.inh.ParentPID, "new_pid": pid, "old_version": sv.inh.ParentVersion, "new_version": sv.version})
	if err := sv.inh.Ready(); err != nil {
		sv.log.Warn("upgrade: the old process did not hear that this one is ready", "err", err)
	}
	sv.log.Info("upgraded: serving in place of the old process", "old_pid", sv.inh.ParentPID, "old_version", sv.inh.ParentVersion)
}

// announce tells the stand-in, if this process has one, that this process
// serves: signals go to it from now on.
func (sv *serving) announce() {
	if link := sv.inh.StandIn(); link != nil {
		if err := link.Announce(os.Getpid()); err != nil {
			sv.log.Warn("the stand-in did not hear that this process serves", "err", err)
		}
	}
}

// run serves until ctx ends, the API stops or an upgrade handed over,
// reloading on SIGHUP and upgrading on SIGUSR2.
func (sv *serving) run(ctx context.Context, hup, usr2 <-chan os.Signal) Result {
	for {
		select {
		case <-ctx.Done():
			return Stopped
		case <-hup:
			sv.notify(sdnotify.Reloading)
			sv.access.reopen(sv.log)
			if _, err := sv.sys.Reload(ctx); err != nil { // a reload that worked is logged by the supervisor
				sv.log.Error("reload (SIGHUP)", "err", err)
			}
			sv.notify(sdnotify.Ready)
		case <-usr2:
			if _, err := sv.startUpgrade("SIGUSR2"); err != nil {
				sv.log.Warn("upgrade (SIGUSR2) refused", "err", err)
			}
		case err := <-sv.upgrade.done:
			if err == nil {
				return Stopped // handed over: the new process serves
			}
		case err := <-sv.serveErr:
			sv.log.Error("management API stopped", "err", err)
			return Failed
		}
	}
}

// notify tells systemd (Type=notify) about the state of serve; outside
// systemd it does nothing. A failure is only logged: serving goes on.
func (sv *serving) notify(state func() (bool, error)) {
	if _, err := state(); err != nil {
		sv.log.Warn("systemd notify", "err", err)
	}
}

// stop stops accepting on every socket at once and lets what is in flight
// finish: API calls for apiShutdownTimeout, each app's proxied requests up to
// its drain_timeout and WebSockets until its websocket_drain_timeout (then
// 1001). The containers keep running. After an upgrade handed over, the
// sockets live on in the new process: nothing tells systemd the service
// stops (the new process is its main one now), no unix socket file is
// removed and nothing is written to the store.
func (sv *serving) stop() {
	child := sv.upgradeWait()
	if child != nil {
		sv.log.Info("handed over: draining, then exiting", "new_pid", child.Pid)
		sv.lns.MarkHandedOver()
		sv.sys.MarkHandedOver()
	} else {
		sv.notify(sdnotify.Stopping)
		sv.log.Info("shutting down: containers keep running")
	}
	defer func() {
		if n := sv.out.Dropped(); n > 0 {
			sv.log.Warn("log lines dropped: the log output was gone or too slow", "dropped", n)
		}
	}()
	apiDone := make(chan struct{})
	go func() {
		defer close(apiDone)
		actx, cancel := context.WithTimeout(context.Background(), apiShutdownTimeout)
		defer cancel()
		if err := sv.srv.Shutdown(actx); err != nil {
			sv.srv.Close()
		}
	}()
	sctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if err := sv.sys.Stop(sctx); err != nil {
		sv.log.Error("stop", "err", err)
	}
	<-apiDone
	sv.rt.CloseIdle()
	sv.log.Info("stopped")
}
