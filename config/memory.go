package config

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

var memoryRE = regexp.MustCompile(`(?i)^([0-9]+(?:\.[0-9]+)?) ?(b|k|kb|kib|m|mb|mib|g|gb|gib)?$`)

// parseMemory reads a memory size in Docker's units: a number with an
// optional unit b, k, m or g (binary: 1k = 1024 bytes; "mb" and "mib" are
// read as m), case-insensitive. A number without unit is bytes.
func parseMemory(s string) (int64, error) {
	m := memoryRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a memory size (use a number with b, k, m or g, e.g. 512m)", s)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a memory size: %w", s, err)
	}
	mult := 1.0
	switch strings.ToLower(m[2])[:min(1, len(m[2]))] {
	case "k":
		mult = 1 << 10
	case "m":
		mult = 1 << 20
	case "g":
		mult = 1 << 30
	}
	bytes := math.Floor(n * mult)
	if bytes >= math.MaxInt64 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return int64(bytes), nil
}
