// Command pulse runs Pulse: `pulse serve` runs roles (all by default), `pulse version` prints
// the version. main reads the environment and flags, nothing below it does.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time: -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "pulse:", err)
		os.Exit(1)
	}
}

const usage = `usage: pulse <command> [flags]

commands:
  serve     run roles (all in one process by default; --roles ingest,counter,live,indexer)
  health    check a running pulse's /readyz (exit 1 when not ready)
  cluster   cluster plan: which Redis master holds which partitions
  replay    re-append archived events: pulse replay --from T --to T [--type a,b]
  rebuild   recompute per-minute history from the archive: pulse rebuild history --from T --to T
  archive   query the archive with DuckDB: pulse archive sql 'SELECT … FROM events …'
  bench     load a running pulse and measure throughput, end-to-end latency and drift
  version   print the version
`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("missing command")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stderr)
	case "bench":
		return bench(ctx, args[1:], stdout, stderr)
	case "cluster":
		return cluster(ctx, args[1:], getenv, stdout, stderr)
	case "replay":
		return replay(ctx, args[1:], getenv, stderr)
	case "rebuild":
		if len(args) < 2 || args[1] != "history" {
			return errors.New("usage: pulse rebuild history --from T --to T [--type a,b]")
		}
		return rebuildHistory(ctx, args[2:], getenv, stderr)
	case "archive":
		if len(args) < 2 || args[1] != "sql" {
			return errors.New(`usage: pulse archive sql '<query over the view events>'`)
		}
		return archiveSQL(ctx, args[2:], getenv, stdout, stderr)
	case "health":
		return health(ctx, args[1:], getenv, stdout)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "pulse", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}
