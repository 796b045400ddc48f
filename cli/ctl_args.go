package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// globalFlags are accepted before or after any subcommand name.
var globalFlags = map[string]bool{"api": true, "json": false, "help": false, "h": false}

// parsed holds the flags and positional arguments of one ctl invocation.
type parsed struct {
	flags map[string]string
	pos   []string
}

func (p *parsed) has(name string) bool {
	v, ok := p.flags[name]
	return ok && v != "false"
}

func (p *parsed) get(name string) string { return p.flags[name] }

// intFlag returns a non-negative integer flag, def when absent.
func (p *parsed) intFlag(name string, def int) (int, error) {
	v, ok := p.flags[name]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("--%s %q is not a non-negative integer", name, v)
	}
	return n, nil
}

// parseCtl splits args into the subcommand, its flags and positional
// arguments. Global flags (--api, --json) are accepted anywhere; the
// subcommand's flags anywhere after its name. A nil command with no error
// means help was asked for.
func parseCtl(args []string) (*parsed, *command, error) {
	in := &parsed{flags: map[string]string{}}
	var cmd *command
	help := false
	onlyPos := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if onlyPos || a == "-" || !strings.HasPrefix(a, "-") {
			switch {
			case cmd == nil && !help && (a == "help"):
				help = true
			case cmd == nil && !help:
				cmd = findCommand(a)
				if cmd == nil {
					return nil, nil, fmt.Errorf("unknown subcommand %q", a)
				}
			default:
				in.pos = append(in.pos, a)
			}
			continue
		}
		if a == "--" {
			onlyPos = true
			continue
		}
		next, err := in.flag(args, i, cmd)
		if err != nil {
			if cmd == nil {
				return nil, nil, err
			}
			return in, cmd, err
		}
		i = next
	}
	if help {
		return in, nil, nil
	}
	return in.check(cmd)
}

// flag reads the flag at args[i] (and its value, when it takes one and
// has no "="), and returns the index of the last argument it used.
func (in *parsed) flag(args []string, i int, cmd *command) (int, error) {
	a := args[i]
	name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
	takesValue, known := globalFlags[name]
	if !known && cmd != nil {
		takesValue, known = cmd.flags[name]
	}
	if !known {
		if cmd == nil {
			return i, fmt.Errorf("unknown flag %s (before the subcommand only --api and --json are allowed)", a)
		}
		return i, fmt.Errorf("unknown flag %s for %s", a, cmd.name)
	}
	switch {
	case takesValue && !hasValue:
		if i+1 >= len(args) {
			return i, fmt.Errorf("flag --%s needs a value", name)
		}
		i++
		value = args[i]
	case !takesValue && hasValue:
		if _, err := strconv.ParseBool(value); err != nil {
			return i, fmt.Errorf("flag --%s takes no value (got %q)", name, value)
		}
	case !takesValue:
		value = "true"
	}
	in.flags[name] = value
	return i, nil
}

// check holds the arguments against the subcommand's (a nil command: help,
// or a missing subcommand).
func (in *parsed) check(cmd *command) (*parsed, *command, error) {
	if cmd == nil {
		if in.has("help") || in.has("h") {
			return in, nil, nil
		}
		return nil, nil, errors.New("missing subcommand")
	}
	if in.has("help") || in.has("h") {
		return in, cmd, nil
	}
	if len(in.pos) < cmd.minPos {
		return in, cmd, fmt.Errorf("%s needs %s", cmd.name, cmd.args)
	}
	if cmd.maxPos >= 0 && len(in.pos) > cmd.maxPos {
		return in, cmd, fmt.Errorf("too many arguments for %s: %s", cmd.name, strings.Join(in.pos[cmd.maxPos:], " "))
	}
	return in, cmd, nil
}
