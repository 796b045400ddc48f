package config

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// volumeNameRE is Docker's rule for a named volume.
var volumeNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// volumeOptions groups the mount options: at most one of each group.
var volumeOptions = map[string]string{
	"ro": "mode", "rw": "mode",
	"z": "label", "Z": "label",
	"nocopy": "nocopy",
	"shared": "propagation", "rshared": "propagation",
	"slave": "propagation", "rslave": "propagation",
	"private": "propagation", "rprivate": "propagation",
	"consistent": "consistency", "cached": "consistency", "delegated": "consistency",
}

const volumeOptionList = "ro, rw, z, Z, nocopy, shared, rshared, slave, rslave, private, rprivate, consistent, cached, delegated"

// checkVolume checks a "host:container[:options]" volume. It returns the
// container path, or why the volume is not valid.
func checkVolume(spec string) (dest, reason string) {
	parts := strings.Split(spec, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return "", "is not host:container[:options] (e.g. /srv/app/data:/data:rw or app-data:/data)"
	}
	host, dest := parts[0], parts[1]
	bind := strings.HasPrefix(host, "/")
	if !bind && !volumeNameRE.MatchString(host) {
		return "", fmt.Sprintf("host part %q must be an absolute path or a volume name", host)
	}
	if !path.IsAbs(dest) {
		return "", fmt.Sprintf("container path %q must be absolute", dest)
	}
	dest = path.Clean(dest)
	if dest == "/" {
		return "", "cannot mount over the container's /"
	}
	if len(parts) == 2 {
		return dest, ""
	}
	seen := map[string]string{}
	for _, opt := range strings.Split(parts[2], ",") {
		group, ok := volumeOptions[opt]
		switch {
		case !ok:
			return "", fmt.Sprintf("unknown option %q (use %s)", opt, volumeOptionList)
		case seen[group] != "":
			return "", fmt.Sprintf("options %q and %q cannot be combined", seen[group], opt)
		case group == "nocopy" && bind:
			return "", "option \"nocopy\" applies only to named volumes"
		case group == "propagation" && !bind:
			return "", fmt.Sprintf("option %q applies only to host paths", opt)
		}
		seen[group] = opt
	}
	return dest, ""
}
