// Command chronik-node runs a Kafka-compatible broker node, and offers a few operator
// commands: version, config check and status.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=..."; main otherwise
// replaces "dev" with the commit the binary was built from (buildVersion).
var version = "dev"

func main() {
	info, ok := debug.ReadBuildInfo()
	version = buildVersion(version, info, ok)
	os.Exit(run(os.Args[1:]))
}

// run dispatches to a subcommand and returns the process exit code.
func run(args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "version":
			fmt.Println("chronik-node", version)
			return 0
		case "config":
			return configCommand(args[1:])
		case "status":
			return statusCommand(args[1:], os.Stdout, os.Stderr)
		case "help", "-h", "--help":
			usage()
			return 0
		case "--help-flags", "-help-flags":
			// The node's flag set prints its own defaults for -h.
			if _, err := loadConfig([]string{"-h"}); !errors.Is(err, flag.ErrHelp) {
				fmt.Fprintln(os.Stderr, "chronik-node:", err)
				return 2
			}
			return 0
		}
	}
	return serve(args)
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  chronik-node [--config FILE] [flags]   run a node (embedded defaults without --config)
  chronik-node config check FILE         validate FILE and print the effective configuration
  chronik-node status [--addr HOST:PORT]  one-screen summary of a running node (default
                                         address 127.0.0.1:9644; or --config FILE)
  chronik-node version                   print the version

run "chronik-node --help-flags" for the node's flags.
`)
}
