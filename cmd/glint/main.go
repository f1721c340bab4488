// Command glint is the OpenStack Image service (Glance's Image API v2) in
// one binary. Subcommands replace Glance's programs: "glint serve" is
// glance-api, "glint db" is glance-manage db.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"glint/internal/app"
	"glint/internal/config"
	"glint/internal/db"
	"glint/internal/framing"
	"glint/internal/obs"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

const usage = `Glint: the OpenStack Image service (Image API v2), in one binary.

Usage:
  glint <command> [flags]

Commands:
  serve        run the API server (Glance's glance-api)
  db sync      create or upgrade the database schema at once (glance-manage db sync)
  db expand, db migrate, db contract
               upgrade it in three phases while nodes serve (glance-manage db expand ...)
  db version   print the schema version (glance-manage db version)
  db check     say which phase is pending, exit 3/4/5 (glance-manage db check)
  db backup    copy the embedded SQLite database online to a file
  db purge     remove rows deleted N days ago, images aside (glance-manage db purge)
  db purge_images_table
               remove images deleted N days ago (glance-manage db purge_images_table)
  policy       print the default or effective policy rules, or check policy files
  scrub        remove the data of delayed deletes and of uploads whose node died (glance-scrubber)
  cache        prefetch, prune or clean the image cache, list it, queue or delete an image
               (glance-cache-prefetcher, -pruner, -cleaner, glance-cache-manage)
  metadefs     load, export or unload the metadata definitions catalog
               (glance-manage db load_metadefs / export_metadefs / unload_metadefs)
  status upgrade check
               check that this node is ready for an upgrade (glance-status upgrade check)
  version      print Glint's version
  help         print this help, or "glint help <command>"

Every command takes --config-file FILE (repeatable) and --config-dir DIR, read
as Glance reads glance-api.conf. With neither, Glint runs on its embedded
default: SQLite and the filesystem store under ./glint-data, on 127.0.0.1:9292.

Run "glint <command> --help" for a command's flags.
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "-h", "--help", "help":
		if len(rest) > 0 {
			return run(ctx, append(rest, "--help"), stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	case "version", "--version":
		fmt.Fprintln(stdout, "glint", version)
		return 0
	case "serve":
		return serve(ctx, rest, stdout, stderr)
	case "db":
		return dbCmd(ctx, rest, stdout, stderr)
	case "policy":
		return policyCmd(ctx, rest, stdout, stderr)
	case "scrub":
		return scrubCmd(ctx, rest, stdout, stderr)
	case "cache":
		return cacheCmd(ctx, rest, stdout, stderr)
	case "metadefs":
		return metadefsCmd(ctx, rest, stdout, stderr)
	case "status":
		return statusCmd(ctx, rest, stdout, stderr)
	}
	fmt.Fprintf(stderr, "glint: unknown command %q\n\n%s", cmd, usage)
	return 2
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// common holds the flags every command takes.
type common struct {
	files, dirs listFlag
	dataDir     string
	pprof       string
}

func newFlagSet(name, help string, stderr io.Writer) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &common{}
	fs.Var(&c.files, "config-file", "read this glance-api.conf-style file (repeatable; later files win)")
	fs.Var(&c.dirs, "config-dir", "read every *.conf file in this directory, after --config-file (repeatable)")
	fs.StringVar(&c.dataDir, "data-dir", "", "where the embedded default keeps its database and images (overrides [glint] data_dir)")
	fs.StringVar(&c.pprof, "pprof", "", "serve Go's pprof profiles on this address (e.g. 127.0.0.1:6060), for profiling")
	fs.Usage = func() {
		// Glance's programs spell flags with two dashes; so does the help.
		fmt.Fprintf(stderr, "%s\n\nFlags:\n", help)
		fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(stderr, "  --%s\n        %s\n", f.Name, f.Usage)
		})
	}
	return fs, c
}

func (c *common) load() (*config.Config, error) {
	cfg, err := config.Load(c.files, c.dirs)
	if err != nil {
		return nil, err
	}
	// Files named by options (policy.yaml, the property protection file)
	// are looked up where oslo.config's find_file looks: beside the
	// configuration.
	cfg.SearchDirs = append([]string(nil), c.dirs...)
	for _, f := range c.files {
		cfg.SearchDirs = append(cfg.SearchDirs, filepath.Dir(f))
	}
	if c.dataDir != "" {
		cfg.DataDir = c.dataDir
		cfg.Finish()
	}
	return cfg, nil
}

// openDB opens the database the configuration names, for the
// subcommands that need nothing else of it.
func (c *common) openDB(ctx context.Context) (*db.DB, error) {
	cfg, err := c.load()
	if err != nil {
		return nil, err
	}
	return db.Open(ctx, cfg.DatabaseConnection)
}

// loadLogged loads the configuration and makes the logger it asks for,
// printing what went wrong to stderr; ok is false when the command must
// exit 1. Call closeLog when done.
func (c *common) loadLogged(stderr io.Writer) (cfg *config.Config, log *slog.Logger, closeLog func(), ok bool) {
	cfg, err := c.load()
	if err == nil {
		log, closeLog, err = newLogger(cfg, stderr)
	}
	if err != nil {
		fmt.Fprintln(stderr, "glint:", err)
		return nil, nil, nil, false
	}
	return cfg, log, closeLog, true
}

func newLogger(cfg *config.Config, stderr io.Writer) (*slog.Logger, func(), error) {
	level := slog.LevelInfo
	if cfg.Debug {
		level = slog.LevelDebug
	}
	w, closeFn := stderr, func() {}
	if cfg.LogFile != "" {
		f, err := os.OpenFile(cfg.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("DEFAULT.log_file: %w", err)
		}
		w, closeFn = f, func() { f.Close() }
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.UseJSON {
		return slog.New(slog.NewJSONHandler(w, opts)), closeFn, nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), closeFn, nil
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, c := newFlagSet("serve", "glint serve: run the Image API server (Glance's glance-api).\n\n"+
		"With no configuration it listens on 127.0.0.1:9292 and keeps SQLite and the\n"+
		"filesystem store under ./glint-data, creating them on first start.", stderr)
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	cfg, log, closeLog, ok := c.loadLogged(stderr)
	if !ok {
		return 1
	}
	defer closeLog()
	if c.pprof != "" {
		// Profiles get their own listener, never the API's.
		go func() {
			log.Info("serving pprof", "address", c.pprof)
			if err := http.ListenAndServe(c.pprof, pprofMux()); err != nil {
				log.Error("pprof listener failed", "err", err)
			}
		}()
	}
	if err := serveWith(ctx, cfg, log, nil); err != nil {
		log.Error("glint serve failed", "err", err)
		fmt.Fprintln(stderr, "glint:", err)
		return 1
	}
	return 0
}

// serveWith runs the server until ctx ends or SIGINT/SIGTERM arrives.
// ready, if not nil, receives the listening address.
func serveWith(ctx context.Context, cfg *config.Config, log *slog.Logger, ready chan<- string) error {
	for _, o := range cfg.Ignored {
		log.Warn("ignoring unknown configuration option", "option", o)
	}
	// Glance's own options are no typos: one line each, saying they have
	// no effect here and why.
	for _, o := range cfg.Unused {
		log.Info("Glance option has no effect in Glint", "option", o, "why", config.UnusedReason(o))
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	tlsConf, err := serverTLS(cfg)
	if err != nil {
		return err
	}

	if cfg.TracingEnabled {
		obs.LogErrors(log)
	}
	glint, err := app.New(ctx, cfg, app.WithLogger(log), app.WithVersion(version))
	if err != nil {
		return err
	}
	defer glint.Close()
	if err := glint.Start(ctx); err != nil {
		return err
	}
	stores := glint.Stores()

	addr := net.JoinHostPort(cfg.BindHost, strconv.Itoa(cfg.BindPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	scheme := "http://"
	if tlsConf != nil {
		// TLS first, so that the framing guard reads the decrypted heads.
		ln, scheme = tls.NewListener(ln, tlsConf), "https://"
	}
	// Requests whose framing a proxy in front could read otherwise (request
	// smuggling) are refused with 400 and their connection closed.
	ln = framing.Listener(ln)
	srv := &http.Server{
		Handler:           glint.Handler(),
		ConnContext:       framing.ConnContext,
		MaxHeaderBytes:    cfg.MaxHeaderLine,
		ReadHeaderTimeout: 30 * time.Second,
		// client_socket_timeout 0 is Glance's "for ever"; so is Go's 0.
		IdleTimeout: time.Duration(cfg.ClientSocketTimeout) * time.Second,
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv.SetKeepAlivesEnabled(cfg.HTTPKeepalive)
	log.Info("glint serving the Image API", "address", scheme+ln.Addr().String(), "database", db.Redact(cfg.DatabaseConnection),
		"stores", stores.Names(), "default_store", stores.DefaultName(), "version", version)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 2)
	if h := glint.MetricsHandler(); h != nil && cfg.MetricsListen != "" {
		// Metrics on a listener of their own ([metrics] listen): nothing
		// but /metrics is served there.
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			return fmt.Errorf("metrics.listen: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", h)
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		defer msrv.Close()
		log.Info("serving metrics", "address", "http://"+mln.Addr().String()+"/metrics")
		go func() {
			if err := msrv.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("metrics listener: %w", err)
			}
		}()
	}
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests")
	shutCtx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// subcommand picks the sub-command of a command with sub-commands (glint
// db, metadefs, policy): none or -h prints help (exit 2 or 0), an unknown
// one is exit 2. ok is false when the caller should return code.
func subcommand(args []string, name, help string, stderr io.Writer, subs ...string) (sub string, code int, ok bool) {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, help)
		if len(args) == 0 {
			return "", 2, false
		}
		return "", 0, false
	}
	if !slices.Contains(subs, args[0]) {
		fmt.Fprintf(stderr, "glint %s: unknown command %q\n\n%s\n", name, args[0], help)
		return "", 2, false
	}
	return args[0], 0, true
}

func dbCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "backup":
			return dbBackupCmd(ctx, args[1:], stdout, stderr)
		case "purge", "purge_images_table":
			return dbPurgeCmd(ctx, args[0] == "purge_images_table", args[1:], stdout, stderr)
		}
	}
	sub, code, ok := subcommand(args, "db", dbHelp, stderr, "sync", "version", "check", "expand", "migrate", "contract")
	if !ok {
		return code
	}
	fs, c := newFlagSet("db "+sub, dbHelp, stderr)
	if err := fs.Parse(args[1:]); err != nil {
		return flagExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "glint db %s: unexpected argument %q\n", sub, fs.Arg(0))
		return 2
	}
	database, err := c.openDB(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "glint:", err)
		return 1
	}
	defer database.Close()
	return dbSchemaCmd(ctx, database, sub, stdout, stderr)
}

func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// serverTLS is the TLS configuration cert_file, key_file and ca_file ask
// for, or nil for plain HTTP.
func serverTLS(cfg *config.Config) (*tls.Config, error) {
	switch {
	case cfg.CertFile == "" && cfg.KeyFile == "" && cfg.CAFile == "":
		return nil, nil
	case cfg.CertFile == "" || cfg.KeyFile == "":
		return nil, errors.New("[DEFAULT] cert_file and key_file must be set together to serve HTTPS (ca_file needs both)")
	}
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("[DEFAULT] cert_file/key_file: %w", err)
	}
	// HTTP/1.1 only: the framing guard reads HTTP/1 heads.
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("[DEFAULT] ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("[DEFAULT] ca_file %s: no PEM certificate in it", cfg.CAFile)
		}
		c.ClientCAs, c.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return c, nil
}
