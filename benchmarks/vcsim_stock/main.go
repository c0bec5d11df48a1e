// Command vcsim_stock is the baseline for benchmarks/vcsim_startup.py: govmomi's own Model builder
// with the same counts as our harness's scale flags, over the same kind of HTTPS server.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
)

func main() {
	clusters := flag.Int("cluster", 20, "clusters")
	hosts := flag.Int("host", 16, "hosts per cluster")
	vms := flag.Int("vm", 250, "VMs per cluster resource pool")
	flag.Parse()
	started := time.Now()
	model := simulator.VPX()
	model.Cluster, model.ClusterHost, model.Machine, model.Host = *clusters, *hosts, *vms, 0
	model.Portgroup, model.Datastore = 3, 1
	if err := model.Create(); err != nil {
		panic(err)
	}
	defer model.Remove()
	model.Service.TLS = new(tls.Config)
	server := model.Service.NewServer()
	defer server.Close()
	fmt.Printf("{\"url\":%q,\"startup_seconds\":%f}\n", server.URL.String(), time.Since(started).Seconds())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
