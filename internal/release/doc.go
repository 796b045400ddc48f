// Package release tests what ships beside the Go code, as an operator uses
// it: the static release build (scripts/release.sh) run in a FROM scratch
// container, the systemd units (packaging/, examples/s3dock/) checked by
// systemd-analyze, the Ansible role (examples/ansible/) run into a folder,
// and the s3dock poller (examples/s3dock/) against a running serve. It has
// no code of its own.
package release
