// Command vcsim serves govmomi's vCenter simulator (Debian's 0.24.2 sources) with a VIO-shaped
// inventory, a 2048-bit certificate, exact credentials, task delays that stay visibly "running",
// and a control endpoint for fault injection; where the product depends on it, it behaves like
// vCenter (ids, clones, refusals, one Task per call; see simulators/README.md). It prints one JSON
// line when ready and exits cleanly on SIGTERM.
package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
)

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func main() {
	listen := flag.String("listen", envOr("VCSIM_LISTEN", "127.0.0.1:0"), "address to listen on (loopback only by default)")
	username := flag.String("username", envOr("VCSIM_USERNAME", "administrator@vsphere.local"), "the only user name accepted")
	password := flag.String("password", envOr("VCSIM_PASSWORD", "VMware1!"), "the only password accepted")
	certFile := flag.String("cert", "", "PEM certificate to serve; generated (and written here) when missing")
	keyFile := flag.String("key", "", "PEM private key for -cert; generated (and written here) when missing")
	taskDelay := flag.String("task-delay", envOr("VCSIM_TASK_DELAY", ""), "per-method task delays in ms that stay 'running', e.g. CloneVM_Task=2000,PowerOnVM_Task=500")
	sessionIdle := flag.Duration("session-idle", 0, "expire sessions idle this long (0: never)")
	var scale Scale
	flag.IntVar(&scale.Datacenters, "dc", 1, "datacenters (the first one holds the VIO inventory)")
	flag.IntVar(&scale.Clusters, "clusters", 0, "extra clusters per datacenter, added to the VIO ones")
	flag.IntVar(&scale.HostsPerCluster, "hosts", 4, "hosts in each extra cluster")
	flag.IntVar(&scale.VMs, "vms", 0, "VMs per datacenter, spread over its clusters")
	flag.IntVar(&scale.Portgroups, "portgroups", 0, "extra distributed port groups per datacenter")
	flag.IntVar(&scale.Datastores, "datastores", 0, "extra shared datastores per datacenter")
	flag.StringVar(&scale.DatastoreScope, "datastore-scope", "datacenter", "hosts an extra datastore is mounted on: datacenter (all) or cluster (one cluster's, the clusters in turn)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the inventory build to this file")
	memProfile := flag.String("memprofile", "", "write a heap profile taken after the inventory build to this file")
	stockCollector := flag.Bool("stock-collector", false, "answer WaitForUpdates(Ex) with govmomi's own PropertyCollector (for measuring it)")
	flag.Parse()
	if scale.DatastoreScope != "datacenter" && scale.DatastoreScope != "cluster" {
		log.Fatalf("-datastore-scope: %q is neither datacenter nor cluster", scale.DatastoreScope)
	}

	log.SetOutput(os.Stderr)
	log.SetPrefix("vcsim: ")
	started := time.Now()

	cert, err := loadOrCreateCertificate(*certFile, *keyFile)
	if err != nil {
		log.Fatalf("certificate: %v", err)
	}
	delays, err := parseDelays(*taskDelay)
	if err != nil {
		log.Fatalf("-task-delay: %v", err)
	}

	// An empty model: the inventory is built below, with the names and shape VIO expects.
	model := simulator.VPX()
	model.Datacenter, model.Cluster, model.ClusterHost, model.Host = 0, 0, 0, 0
	model.Datastore, model.Machine, model.Portgroup = 0, 0, 0
	if err := model.Create(); err != nil {
		log.Fatalf("model: %v", err)
	}
	defer model.Remove()

	// Installed before the inventory is built, so every object has vCenter's id from the start.
	ids := installVcenterIDs()
	taskList := installTaskList()
	installExtensionManager()
	ctx := context.Background()
	dataDir, err := os.MkdirTemp("", "vio-vcsim-")
	if err != nil {
		log.Fatalf("data directory: %v", err)
	}
	defer os.RemoveAll(dataDir)
	restoreGC := tuneGCForBuild()
	if *cpuProfile != "" {
		out, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatalf("-cpuprofile: %v", err)
		}
		_ = pprof.StartCPUProfile(out)
	}
	invoker := newInvoker(*username)
	counts, err := buildInventory(ctx, model.Service, scale, ids, dataDir, invoker.session)
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		model.Remove()
		os.RemoveAll(dataDir)
		log.Fatalf("inventory: %v", err)
	}
	taskList.sweep(0) // the build's own tasks: a fresh vCenter lists none
	restoreGC()
	if !*stockCollector {
		installCollector() // after the build, which needs none of it
	}
	if *memProfile != "" {
		if out, err := os.Create(*memProfile); err == nil {
			_ = pprof.WriteHeapProfile(out)
			out.Close()
		}
	}
	describeTaskEvents()

	if *sessionIdle > 0 {
		simulator.SessionIdleTimeout = *sessionIdle
	}
	model.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(*username, *password)}
	model.Service.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	server := model.Service.NewServer()
	front := &harness{
		next:      server.Config.Handler,
		rules:     &rules{list: delays},
		tasks:     &tasks{list: taskList, invoker: invoker},
		ids:       ids,
		overrides: map[string]override{},
		checks:    map[string]check{},
	}
	(&vmOps{invoker: invoker}).register(front)
	front.checks["QueryEvents"] = front.queryEvents
	installSessionCheck(front)
	front.checks["CreateCollectorForEvents"] = front.createCollectorForEvents
	front.checks["SetCollectorPageSize"] = front.setCollectorPageSize
	front.checks["RefreshDatastore"] = front.refreshDatastore
	installCustomFields(front)
	server.Config.Handler = front

	fingerprint := sha256.Sum256(cert.Certificate[0])
	parts := make([]string, len(fingerprint))
	for i, b := range fingerprint {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	sdk := *server.URL
	sdk.User = nil
	host := sdk.Hostname()
	ready := map[string]interface{}{
		"url":                sdk.String(),
		"host":               host,
		"port":               sdk.Port(),
		"username":           *username,
		"fingerprint_sha256": strings.Join(parts, ":"),
		"control_url":        fmt.Sprintf("https://%s/vcsim/fault", sdk.Host),
		"inventory":          counts,
		"startup_seconds":    time.Since(started).Seconds(),
	}
	line, _ := json.Marshal(ready)
	fmt.Println(string(line))

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	server.Close()
	model.Remove()
	os.RemoveAll(dataDir)
	log.Print("stopped")
}

// tuneGCForBuild lets the heap grow between collections while the inventory is built: the build
// allocates a great deal of short-lived garbage (XML copies of host templates, VM devices), and at
// 40,000 VMs the collector's default pace spent about a third of the build's CPU. A soft memory
// limit keeps the peak bounded. The returned function restores the defaults and gives the
// build's garbage back to the system.
func tuneGCForBuild() func() {
	const buildGCPercent, buildMemoryLimit = 400, 2 << 30
	gcPercent := debug.SetGCPercent(buildGCPercent)
	limit := debug.SetMemoryLimit(buildMemoryLimit)
	return func() {
		debug.SetGCPercent(gcPercent)
		debug.SetMemoryLimit(limit)
		debug.FreeOSMemory()
	}
}
