// Command ferretdb-embedded runs FerretDB v1 with its SQLite backend as a
// MongoDB-wire server on a loopback port. igdm starts it for development and
// tests when no DATABASE_URL is configured. The library package is embedded
// because `go install .../cmd/ferretdb` builds a binary that panics without
// its version.txt.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"log/slog"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	dataDir := flag.String("data", "", "directory for the SQLite files (required)")
	port := flag.Int("port", 0, "TCP port on 127.0.0.1 (0 = pick a free one)")
	logLevel := flag.String("log-level", "error", "FerretDB log level")
	exitWithParent := flag.Bool("exit-with-parent", false, "stop when standard input closes (the parent died)")
	flag.Parse()
	if *dataDir == "" {
		fmt.Fprintln(os.Stderr, "ferretdb-embedded: -data is required")
		os.Exit(2)
	}
	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb-embedded: cannot create data dir:", err)
		os.Exit(1)
	}

	chosen := *port
	if chosen == 0 {
		// Ask the kernel for a free port, then hand it to FerretDB.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, "ferretdb-embedded: no free port:", err)
			os.Exit(1)
		}
		chosen = l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: fmt.Sprintf("127.0.0.1:%d", chosen)},
		Handler:   "sqlite",
		SQLiteURL: "file:" + *dataDir + "/",
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: parseLevel(*logLevel)})),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb-embedded: start failed:", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *exitWithParent {
		// A parent killed with SIGKILL cannot stop us; its end of our stdin closing is the one
		// sign we get. Without this an orphan keeps the SQLite files while the next start
		// opens a second server on them.
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}

	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	// Existing data first, so the first queries after READY are indexed; then new tables.
	keeper := newIDIndexKeeper(*dataDir)
	keeper.pass(ctx)
	go keeper.run(ctx, 200*time.Millisecond)

	// The parent process waits for this line before connecting.
	fmt.Printf("READY %s\n", f.MongoDBURI())

	if err := <-done; err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "ferretdb-embedded: stopped:", err)
		os.Exit(1)
	}
}

func parseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelError
	}
	return l
}
