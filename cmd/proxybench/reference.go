package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// The reference proxies get the configuration an operator would use for a
// keep-alive HTTP/1.1 reverse proxy with WebSockets: one worker (nginx) or
// thread (HAProxy), upstream keep-alive, no access log; nginx-log is nginx
// with its access_log to a file (its default format, unbuffered: a write
// per request, as an operator's plain access_log line does).

const nginxConf = `worker_processes 1;
daemon off;
master_process on;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log %[4]s;
    client_body_temp_path %[1]s/nginx-body;
    proxy_temp_path %[1]s/nginx-proxy;
    fastcgi_temp_path %[1]s/nginx-fastcgi;
    uwsgi_temp_path %[1]s/nginx-uwsgi;
    scgi_temp_path %[1]s/nginx-scgi;
    map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
    upstream backend { server %[2]s; keepalive 256; }
    server {
        listen %[3]s;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 1h;
        }
    }
}
`

const haproxyConf = `global
    nbthread 1
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 1h
    timeout server 1h
    option forwardfor
    http-reuse always
frontend fe
    bind %[1]s
    default_backend be
backend be
    server s1 %[2]s
`

func startNginx(ctx context.Context, dir, path, backend string) (*target, error) {
	return startNginxAs(ctx, "nginx", "off", dir, path, backend)
}

func startNginxLog(ctx context.Context, dir, path, backend string) (*target, error) {
	return startNginxAs(ctx, "nginx-log", filepath.Join(dir, "nginx-access.log"), dir, path, backend)
}

// startNginxAs starts nginx as the target name, with accessLog as its
// access_log ("off", or a file).
func startNginxAs(ctx context.Context, name, accessLog, dir, path, backend string) (*target, error) {
	addr := freeAddr()
	sub := filepath.Join(dir, name) // a prefix of its own: pid file, temp paths
	if err := os.MkdirAll(sub, 0o755); err != nil {
		return nil, err
	}
	conf := filepath.Join(sub, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, sub, backend, addr, accessLog), 0o644); err != nil {
		return nil, err
	}
	p, err := startProc(ctx, dir, name, nil, path, "-c", conf, "-p", sub, "-e", filepath.Join(sub, "nginx-error.log"))
	if err != nil {
		return nil, err
	}
	return &target{name: name, addr: addr, proc: p}, nil
}

func startHAProxy(ctx context.Context, dir, path, backend string) (*target, error) {
	addr := freeAddr()
	conf := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(conf, fmt.Appendf(nil, haproxyConf, addr, backend), 0o644); err != nil {
		return nil, err
	}
	p, err := startProc(ctx, dir, "haproxy", nil, path, "-db", "-f", conf)
	if err != nil {
		return nil, err
	}
	return &target{name: "haproxy", addr: addr, proc: p}, nil
}
