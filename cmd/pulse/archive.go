package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/pulsehq/pulse/cmd/pulse/app"
	"github.com/pulsehq/pulse/internal/archive"
	"github.com/pulsehq/pulse/internal/events"
)

// archiveFlags are the range flags of replay and rebuild.
type archiveFlags struct {
	from, to, types string
}

func (f *archiveFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&f.from, "from", "", "start of the range, inclusive: RFC 3339 or unix ms (required)")
	fs.StringVar(&f.to, "to", "", "end of the range, exclusive: RFC 3339 or unix ms (required)")
	fs.StringVar(&f.types, "type", "", "comma-separated event types (default: every type)")
}

func (f *archiveFlags) filter() (archive.Filter, error) {
	var out archive.Filter
	if f.from == "" || f.to == "" {
		return out, errors.New("--from and --to are required")
	}
	var err *events.Error
	if out.From, err = events.ParseTimeString(f.from); err != nil {
		return out, fmt.Errorf("--from: %s", err.Message)
	}
	if out.To, err = events.ParseTimeString(f.to); err != nil {
		return out, fmt.Errorf("--to: %s", err.Message)
	}
	if out.To <= out.From {
		return out, errors.New("--to must be after --from")
	}
	for _, t := range strings.Split(f.types, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out.Types = append(out.Types, t)
		}
	}
	return out, nil
}

// archiveCommand runs replay or rebuild: it parses the command line, opens the deployment,
// counts the archived events the range selects, and runs do with a progress bar of them; do
// returns the line that sums up what it did.
func archiveCommand(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, what string,
	do func(a *app.App, f archive.Filter, total int64, progress app.Progress) (string, error)) error {
	var af archiveFlags
	cfg, _, err := parseConfig(args, getenv, stderr, af.add)
	if err != nil {
		return err
	}
	f, err := af.filter()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	a, err := app.Open(octx, cfg, log)
	cancel()
	if err != nil {
		return err
	}
	defer a.Close()
	total, err := a.ArchiveTotal(ctx, f)
	if err != nil {
		return err
	}
	b := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("events"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(stderr) }),
	)
	summary, err := do(a, f, total, func(done int64) { _ = b.Set64(done) })
	_ = b.Finish()
	fmt.Fprintln(stderr, summary)
	return err
}

// replay runs `pulse replay`.
func replay(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	return archiveCommand(ctx, args, getenv, stderr, "replay", func(a *app.App, f archive.Filter, total int64, progress app.Progress) (string, error) {
		res, err := a.Replay(ctx, f, progress)
		return fmt.Sprintf("replayed %d archived events: %d appended, %d already in the streams (duplicates)", total, res.Appended, res.Duplicates), err
	})
}

// rebuildHistory runs `pulse rebuild history`.
func rebuildHistory(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	return archiveCommand(ctx, args, getenv, stderr, "rebuild history", func(a *app.App, f archive.Filter, total int64, progress app.Progress) (string, error) {
		n, err := a.RebuildHistory(ctx, f, progress)
		return fmt.Sprintf("rebuilt history from %d archived events: %d (type, subject, minute) counts set", total, n), err
	})
}

// archiveSQL runs `pulse archive sql '<query>'`: DuckDB over the archive, with a view named
// events, printed as tab-separated columns with a header.
func archiveSQL(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return errors.New(`usage: pulse archive sql '<query over the view events>' [--archive-url …]`)
	}
	cfg, _, err := parseConfig(args[1:], getenv, stderr)
	if err != nil {
		return err
	}
	st, err := app.OpenArchive(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	eng, err := archive.NewEngine(st)
	if err != nil {
		return err
	}
	defer eng.Close()
	rows, err := eng.SQL(ctx, args[0])
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(cols, "\t"))
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		cells := make([]string, len(vals))
		for i, v := range vals {
			switch v := v.(type) {
			case time.Time:
				cells[i] = v.UTC().Format(time.RFC3339)
			case nil:
				cells[i] = "NULL"
			default:
				cells[i] = fmt.Sprint(v)
			}
		}
		fmt.Fprintln(w, strings.Join(cells, "\t"))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return w.Flush()
}
