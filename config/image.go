package config

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	imageDomainRE = regexp.MustCompile(`^(?:` +
		`(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*` +
		`|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$`)
	imagePathRE   = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	imageTagRE    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	imageDigestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// CheckImage returns an error saying why ref is not a valid Docker image
// reference, or nil when it is.
func CheckImage(ref string) error {
	if why := checkImage(ref); why != "" {
		return fmt.Errorf("image %q %s", ref, why)
	}
	return nil
}

// checkImage tells why ref is not a valid Docker image reference
// ([registry-host[:port]/]path[:tag][@sha256:digest]), or "" when it is.
func checkImage(ref string) string {
	if ref == "" {
		return "is empty"
	}
	if strings.ContainsFunc(ref, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "contains whitespace or control characters"
	}
	name := ref
	if i := strings.IndexByte(name, '@'); i >= 0 {
		digest := name[i+1:]
		name = name[:i]
		if !imageDigestRE.MatchString(digest) {
			return fmt.Sprintf("digest %q is not sha256:<64 lowercase hex digits>", digest)
		}
	}
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		tag := name[i+1:]
		name = name[:i]
		if !imageTagRE.MatchString(tag) {
			return fmt.Sprintf("tag %q may hold only letters, digits, '_', '.' and '-' (not first), at most 128", tag)
		}
	}
	if name == "" {
		return "has no repository name"
	}
	if len(name) > 255 {
		return "repository name is longer than 255 characters"
	}
	parts := strings.Split(name, "/")
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:[") || parts[0] == "localhost" || parts[0] != strings.ToLower(parts[0])) {
		if !imageDomainRE.MatchString(parts[0]) {
			return fmt.Sprintf("registry %q is not a valid host[:port]", parts[0])
		}
		parts = parts[1:]
	}
	for _, p := range parts {
		switch {
		case p == "":
			return "has an empty path component"
		case imagePathRE.MatchString(p):
		case p != strings.ToLower(p):
			return fmt.Sprintf("path component %q must be lowercase", p)
		default:
			return fmt.Sprintf("path component %q may hold only lowercase letters, digits and single separators (. _ __ -) between them", p)
		}
	}
	return ""
}
