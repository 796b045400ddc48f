package cli

import (
	"io"
	"slices"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// parsedCtl is what the command tree made of a ctl command line.
type parsedCtl struct {
	cmd   string
	pos   []string
	flags map[string]string // the flags set, by name
}

func (p *parsedCtl) has(name string) bool { return p.flags[name] == "true" }

func (p *parsedCtl) get(name string) string { return p.flags[name] }

// parseCtl parses `bluegreen ctl args...` as Run does, without running it.
func parseCtl(args []string) (*parsedCtl, error) {
	root := newRoot(io.Discard, io.Discard)
	all := longFlags(root, append([]string{"ctl"}, args...))
	cmd, rest, err := root.Traverse(all)
	if err != nil {
		return nil, err
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return nil, cmd.FlagErrorFunc()(cmd, err)
	}
	pos := cmd.Flags().Args()
	if err := cmd.ValidateArgs(pos); err != nil {
		return nil, err
	}
	p := &parsedCtl{cmd: cmd.Name(), pos: slices.Clone(pos), flags: map[string]string{}}
	for c := cmd; c != nil; c = c.Parent() {
		visitSet(c, p.flags)
	}
	return p, nil
}

func visitSet(c *cobra.Command, into map[string]string) {
	for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags()} {
		fs.Visit(func(f *pflag.Flag) { into[f.Name] = f.Value.String() })
	}
}
