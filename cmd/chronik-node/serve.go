package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/chronik/chronik-node/actors"
	"github.com/chronik/chronik-node/actors/metrics"
	"github.com/chronik/chronik-node/cmd/chronik-node/config"
	"github.com/chronik/chronik-node/metastore"
	"github.com/chronik/chronik-node/metastore/configs"
	"github.com/chronik/chronik-node/raftnode/storage"
	"github.com/chronik/chronik-node/wire"
)

// shutdownGrace bounds how long in-flight requests may take to finish at shutdown.
const shutdownGrace = 30 * time.Second

// serve runs a node until SIGTERM, SIGINT or SIGHUP, then shuts down cleanly and returns 0.
func serve(args []string) int {
	start := time.Now()
	cfg, err := loadConfig(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chronik-node:", err)
		return 2
	}
	log := newLogger(cfg)
	fit := fitToMemory(cfg, log)
	phase(log, "config", start)

	// SIGHUP too: a closed terminal must not kill the node unsynced (the JVM runs Kafka's
	// shutdown hook on it as well).
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer stop()
	n, err := startNode(ctx, cfg, fit, log)
	if err != nil {
		log.Error().Err(err).Msg("startup failed")
		return 1
	}
	checkOpenFiles(log, n.node.Image(), n.sealedFiles)
	log.Info().Dur("took", time.Since(start)).Str("kafka", cfg.Listener).Str("advertised", cfg.AdvertisedListener).
		Str("debug", cfg.DebugListener).Str("version", version).Msg("chronik-node ready")

	<-ctx.Done()
	log.Info().Str("signal", context.Cause(ctx).Error()).Msg("signal received; shutting down")
	if err := n.shutdown(); err != nil {
		log.Error().Err(err).Msg("shutdown")
		return 1
	}
	log.Info().Msg("shutdown complete")
	return 0
}

func newLogger(cfg *config.Config) zerolog.Logger {
	level, err := zerolog.ParseLevel(cfg.LogLevel)
	if err != nil {
		level = zerolog.InfoLevel
	}
	var out = zerolog.New(os.Stderr)
	if cfg.LogFormat == "console" {
		// Colour codes are for a terminal; in a file or a journal they are noise.
		out = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.RFC3339, NoColor: !isTerminal(os.Stderr)})
	}
	return out.Level(level).With().Timestamp().Int32("node", cfg.NodeID).Logger()
}

// isTerminal tells whether f is a character device, as a terminal is (a pipe or a file
// is not).
func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// phase logs one startup phase with its duration.
func phase(log zerolog.Logger, name string, since time.Time) {
	log.Info().Str("phase", name).Dur("took", time.Since(since)).Msg("startup phase done")
}

// runningNode is everything a started node owns, in the order it is shut down.
type runningNode struct {
	log     zerolog.Logger
	kafka   *wire.Server
	debug   *http.Server
	node    *actors.Node
	metrics *metrics.Metrics
	store   *metastore.Store
	raftLog storage.Storage
	served  chan error
	// sealedFiles bounds the sealed segments' open files (from the open-files limit).
	sealedFiles int
}

func startNode(ctx context.Context, cfg *config.Config, fit memoryFit, log zerolog.Logger) (*runningNode, error) {
	r := &runningNode{log: log, served: make(chan error, 2), sealedFiles: sealedSegmentFiles()}
	ok := false
	defer func() {
		if !ok {
			r.closeStores()
		}
	}()

	t := time.Now()
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", cfg.DataDir, err)
	}
	var err error
	if err := inspectStores(cfg.DataDir, cfg.RaftStorage, log); err != nil {
		return nil, err
	}
	if r.store, err = metastore.Open(filepath.Join(cfg.DataDir, "meta.db"), metastore.Options{}); err != nil {
		return nil, err
	}
	phase(log, "open metadata store", t)

	t = time.Now()
	if cfg.RaftStorage == storage.ModeMemory {
		r.raftLog = storage.NewMemory()
	} else if r.raftLog, err = storage.OpenBolt(filepath.Join(cfg.DataDir, "raft.db"), storage.BoltOptions{}, log.With().Str("component", "raft-storage").Logger()); err != nil {
		return nil, err
	}
	phase(log, "open raft storage ("+cfg.RaftStorage+")", t)

	static, staticSet := cfg.Values()
	host, portText, _ := net.SplitHostPort(cfg.AdvertisedListener)
	port, _ := strconv.Atoi(portText)
	if r.node, err = actors.Start(actors.Options{
		NodeID:      uint64(cfg.NodeID),
		Advertise:   metastore.Broker{Host: host, Port: int32(port)},
		Store:       r.store,
		RaftStorage: r.raftLog,
		Raft: actors.RaftOptions{
			Tick: cfg.RaftTick, ElectionTicks: cfg.RaftElectionTicks, HeartbeatTicks: cfg.RaftHeartbeatTicks,
			SnapshotEntries: cfg.RaftSnapshotEntries, ProposalTimeout: cfg.RaftProposalTimeout,
		},
		Data: actors.DataOptions{
			Dir: partitionsDir(cfg), FlushAlways: cfg.FlushPolicy == "always",
			FlushInterval: cfg.FlushInterval, RetentionCheckInterval: cfg.RetentionCheckInterval,
			StaticConfig: static, StaticSet: staticSet, CheckMemory: fit.checkMemory,
			SealedSegmentFiles: r.sealedFiles, IndexMemory: fit.indexMemory, CleanerBackoff: cfg.CleanerBackoff,
		},
		Groups: actors.GroupOptions{
			MinSessionTimeout: cfg.GroupMinSessionTimeout, MaxSessionTimeout: cfg.GroupMaxSessionTimeout,
			InitialRebalanceDelay: cfg.GroupInitialRebalanceDelay, OffsetsRetention: cfg.OffsetsRetention,
			RetentionCheckInterval: min(cfg.OffsetsRetention, 10*time.Minute),
		},
		Log: log,
	}); err != nil {
		return nil, err
	}

	t = time.Now()
	if err := r.node.WaitReady(ctx); err != nil {
		r.node.Stop()
		return nil, err
	}
	phase(log, "raft ready and broker registered", t)

	t = time.Now()
	if err := r.listen(cfg, fit); err != nil {
		r.node.Stop()
		return nil, err
	}
	phase(log, "listeners", t)
	ok = true
	return r, nil
}

// partitionsDir is the log directory: the partition logs live in it, one directory each.
// It is absolute, as DescribeLogDirs reports it.
func partitionsDir(cfg *config.Config) string {
	dir := filepath.Join(cfg.DataDir, "partitions")
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return dir
}

// listen starts the Kafka listener and the debug HTTP listener.
func (r *runningNode) listen(cfg *config.Config, fit memoryFit) error {
	static, set := cfg.Values()
	handlers := wire.NewHandlers(r.node, wire.BrokerConfig{
		NodeID: cfg.NodeID, NumPartitions: cfg.NumPartitions, ReplicationFactor: cfg.DefaultReplicationFactor,
		AutoCreateTopics: cfg.AutoCreateTopics, Static: static, StaticSet: set, StaticInfo: staticInfo(), LogDir: partitionsDir(cfg),
		FetchSessionSlots: fetchSessionSlots(cfg.FetchSessionSlots), FetchSessionMemory: fit.sessionMemory,
	}, r.log.With().Str("component", "handlers").Logger())
	r.metrics = metrics.New(r.node, version, r.log.With().Str("component", "metrics").Logger())
	r.node.OnImage(r.metrics.TopicsChanged)
	handlers.ObserveData(r.metrics)
	r.metrics.WatchFetchSessions(handlers.FetchSessions)
	reg, err := wire.NewRegistry(handlers.APIs()...)
	if err != nil {
		return fmt.Errorf("build API registry: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Listener)
	if err != nil {
		return fmt.Errorf("kafka listener %s: %w", cfg.Listener, err)
	}
	r.kafka = wire.NewServer(wire.ServerConfig{
		MaxRequestBytes: cfg.MaxRequestBytes, MaxInFlightPerConn: cfg.MaxInFlightPerConn, MaxQueuedRequestBytes: cfg.MaxQueuedRequestBytes, MaxQueuedFetchBytes: cfg.MaxQueuedFetchBytes, IdleTimeout: cfg.ConnMaxIdle,
	}, reg, r.metrics, r.log.With().Str("component", "kafka").Logger())
	r.metrics.WatchBudgets(func() metrics.BudgetStats {
		req, fetch := r.kafka.Budgets()
		return metrics.BudgetStats{RequestHeld: req.Held, RequestCapacity: req.Capacity, RequestWaiting: req.Waiting,
			FetchHeld: fetch.Held, FetchCapacity: fetch.Capacity, FetchWaiting: fetch.Waiting}
	})
	r.metrics.WatchSegmentCaches(r.node.SealedSegmentFilesOpen, r.sealedFiles, r.node.SealedIndexBytes, fit.indexMemory)
	go func() { r.served <- r.kafka.Serve(ln) }()

	if cfg.DebugListener == "" {
		return nil
	}
	dln, err := net.Listen("tcp", cfg.DebugListener)
	if err != nil {
		return fmt.Errorf("debug listener %s: %w", cfg.DebugListener, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", r.metrics.Handler())
	mux.Handle("/", r.node.DebugHandler(cfg.FaultInjection))
	r.debug = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: httpErrorLog(r.log.With().Str("component", "debug-http").Logger())}
	go func() {
		if err := r.debug.Serve(dln); !errors.Is(err, http.ErrServerClosed) {
			r.served <- err
		}
	}()
	return nil
}

// shutdown stops accepting, lets in-flight requests finish, stops the actors and closes
// (syncing) the stores.
func (r *runningNode) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	var errs []error
	if r.kafka != nil {
		errs = append(errs, r.kafka.Shutdown(ctx))
	}
	if r.debug != nil {
		// Served until the Kafka requests have drained (healthz, metrics), then closed at
		// once: a profile or a scrape still running is worth nothing once the node goes,
		// and waiting for it held the shutdown to its grace and failed it.
		r.debug.Close()
	}
	r.node.Stop()
	errs = append(errs, r.closeStores())
	return errors.Join(errs...)
}

func (r *runningNode) closeStores() error {
	var errs []error
	if r.raftLog != nil {
		errs = append(errs, r.raftLog.Close())
	}
	if r.store != nil {
		errs = append(errs, r.store.Close())
	}
	return errors.Join(errs...)
}

// fetchSessionSlots maps max.incremental.fetch.session.cache.slots onto
// wire.BrokerConfig.FetchSessionSlots, where 0 means the default and off is negative.
func fetchSessionSlots(slots int) int {
	if slots == 0 {
		return -1
	}
	return slots
}

// staticInfo is the type and documentation of every config key, as DescribeConfigs of
// the broker reports them.
func staticInfo() map[string]configs.KeyInfo {
	out := make(map[string]configs.KeyInfo, len(config.Keys()))
	for _, k := range config.Keys() {
		out[k.Name] = configs.KeyInfo{Type: configs.Type(k.DescribedType()), Doc: k.Doc}
	}
	return out
}
