package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/chronik/chronik-node/cmd/chronik-node/config"
)

// configCommand implements `chronik-node config check FILE` and `config reference` (the
// README's key table).
func configCommand(args []string) int {
	if len(args) == 1 && args[0] == "reference" {
		fmt.Print(config.Markdown())
		return 0
	}
	if len(args) != 2 || args[0] != "check" {
		fmt.Fprintln(os.Stderr, "usage: chronik-node config check FILE")
		return 2
	}
	c, err := config.Load(args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Print(c.TOML())
	return 0
}

// overrides collects repeated --set key=value flags.
type overrides []string

func (o *overrides) String() string     { return strings.Join(*o, ",") }
func (o *overrides) Set(v string) error { *o = append(*o, v); return nil }

// loadConfig builds the node's configuration: defaults, then the file, then flags.
func loadConfig(args []string) (*config.Config, error) {
	fs := flag.NewFlagSet("chronik-node", flag.ContinueOnError)
	var (
		file = fs.String("config", "", "TOML config file (defaults are used without one)")
		sets overrides
	)
	// The common keys get their own flags; any key can be given with --set key=value.
	keyOfFlag := map[string]string{
		"node-id": "node.id", "data-dir": "data.dir", "listen": "listeners", "advertise": "advertised.listeners",
		"debug-listen": "debug.listener", "raft-storage": "raft.storage", "log-level": "logging.level",
	}
	fs.String("node-id", "", "node.id")
	fs.String("data-dir", "", "data.dir")
	fs.String("listen", "", "listeners (host:port of the Kafka listener)")
	fs.String("advertise", "", "advertised.listeners (host:port given to clients)")
	fs.String("debug-listen", "", "debug.listener (host:port of the debug HTTP server; \"\" turns it off)")
	fs.String("raft-storage", "", "raft.storage (bbolt or memory)")
	fs.String("log-level", "", "logging.level")
	fs.Var(&sets, "set", "set any config key: --set key=value (repeatable)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c := config.Default()
	if *file != "" {
		var err error
		if c, err = config.Load(*file); err != nil {
			return nil, err
		}
	}
	// Every flag given applies, an empty one too: --debug-listen "" turns the debug
	// listener off, as debug.listener = "" in the file does.
	var setErr error
	fs.Visit(func(f *flag.Flag) {
		if key, ok := keyOfFlag[f.Name]; ok && setErr == nil {
			setErr = c.Set(key, f.Value.String())
		}
	})
	if setErr != nil {
		return nil, setErr
	}
	for _, kv := range sets {
		key, value, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("--set %q: want key=value", kv)
		}
		if err := c.Set(key, value); err != nil {
			return nil, err
		}
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	return c, nil
}
