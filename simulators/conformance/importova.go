package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"regexp"
	"strings"

	"github.com/vmware/govmomi/nfc"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/ovf"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// An OVA is a tar archive: the OVF descriptor first, then optionally a manifest (.mf) of file
// digests, then the files the descriptor references (here, a streamOptimized disk). The import is
// vCenter's: OvfManager.CreateImportSpec turns the descriptor into an import spec,
// ResourcePool.ImportVApp creates the VM and hands out an NFC lease, and the disk goes up to the
// lease's URL; the lease is completed, or aborted so that vCenter removes what it made.

// ova reads members of an OVA file. A tar has no index, so each read scans from the start; an
// OVA holds a handful of members.
type ova struct{ file string }

// open returns the member named name (a reader valid until the next open) and its size.
func (o ova) open(name string) (io.ReadCloser, int64, error) {
	f, err := os.Open(o.file)
	if err != nil {
		return nil, 0, err
	}
	archive := tar.NewReader(f)
	for {
		header, err := archive.Next()
		if err != nil {
			_ = f.Close()
			if errors.Is(err, io.EOF) {
				return nil, 0, fmt.Errorf("%s holds no %s", o.file, name)
			}
			return nil, 0, err
		}
		if path.Clean(header.Name) == name {
			return struct {
				io.Reader
				io.Closer
			}{archive, f}, header.Size, nil
		}
	}
}

// members lists the names in the archive, in order.
func (o ova) members() ([]string, error) {
	f, err := os.Open(o.file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var names []string
	archive := tar.NewReader(f)
	for {
		header, err := archive.Next()
		if errors.Is(err, io.EOF) {
			return names, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s is not an OVA (a tar archive): %w", o.file, err)
		}
		names = append(names, path.Clean(header.Name))
	}
}

func (o ova) readAll(name string) ([]byte, error) {
	r, _, err := o.open(name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// manifest maps file names to their digests: lines such as "SHA256(disk.vmdk)= 3f…".
type digest struct {
	algorithm string
	hex       string
}

var manifestLine = regexp.MustCompile(`^(SHA1|SHA256|SHA512)\((.+)\)\s*=\s*([0-9a-fA-F]+)$`)

func parseManifest(data []byte) (map[string]digest, error) {
	entries := map[string]digest{}
	lines := bufio.NewScanner(bytes.NewReader(data))
	for lines.Scan() {
		line := strings.TrimSpace(lines.Text())
		if line == "" {
			continue
		}
		m := manifestLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("manifest line %q is not ALGORITHM(file)= digest", line)
		}
		entries[m[2]] = digest{algorithm: m[1], hex: strings.ToLower(m[3])}
	}
	return entries, lines.Err()
}

func newHash(algorithm string) hash.Hash {
	switch algorithm {
	case "SHA1":
		return sha1.New()
	case "SHA512":
		return sha512.New()
	}
	return sha256.New()
}

// checkDigest compares what was read with the manifest's entry, if the manifest has one.
func checkDigest(manifest map[string]digest, name string, h hash.Hash) (string, error) {
	want, listed := manifest[name]
	if !listed {
		return "not listed", nil
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want.hex {
		return "", fmt.Errorf("%s: %s %s, the manifest says %s", name, want.algorithm, got, want.hex)
	}
	return "verified", nil
}

func runImportOVA(ctx context.Context, e *env, args []string) (interface{}, error) {
	fs := flag.NewFlagSet("import-ova", flag.ContinueOnError)
	name := fs.String("name", "", "the VM's name (default: the descriptor's)")
	poolArg := fs.String("pool", "", "the resource pool")
	dsArg := fs.String("ds", "", "the datastore")
	folderArg := fs.String("folder", "", "the VM folder (default: the datacenter's)")
	netArg := fs.String("net", "", "map every network of the descriptor to this one")
	hostArg := fs.String("host", "", "the host (default: vCenter picks)")
	positional, err := parseFlags(fs, args)
	if err != nil {
		return nil, err
	}
	if len(positional) != 1 || *poolArg == "" || *dsArg == "" {
		return nil, usagef("import-ova takes one FILE, -pool and -ds")
	}
	archive := ova{file: positional[0]}
	names, err := archive.members()
	if err != nil {
		return nil, err
	}
	if len(names) == 0 || path.Ext(names[0]) != ".ovf" {
		return nil, fmt.Errorf("%s: the first member of an OVA must be its .ovf descriptor", archive.file)
	}
	descriptor, err := archive.readAll(names[0])
	if err != nil {
		return nil, err
	}
	manifest := map[string]digest{}
	for _, member := range names {
		if path.Ext(member) == ".mf" {
			data, err := archive.readAll(member)
			if err == nil {
				manifest, err = parseManifest(data)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	descriptorHash := newHash(manifest[names[0]].algorithm)
	descriptorHash.Write(descriptor)
	if _, err := checkDigest(manifest, names[0], descriptorHash); err != nil {
		return nil, err
	}
	envelope, err := ovf.Unmarshal(bytes.NewReader(descriptor))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", names[0], err)
	}

	pool, err := e.pool(ctx, *poolArg)
	if err != nil {
		return nil, err
	}
	ds, err := e.datastore(ctx, *dsArg)
	if err != nil {
		return nil, err
	}
	folder, err := e.folder(ctx, *folderArg)
	if err != nil {
		return nil, err
	}
	params := types.OvfCreateImportSpecParams{EntityName: *name}
	var host *object.HostSystem
	if *hostArg != "" {
		if host, err = e.host(ctx, *hostArg); err != nil {
			return nil, err
		}
		ref := host.Reference()
		params.HostSystem = &ref
	}
	if *netArg != "" && envelope.Network != nil {
		network, err := e.network(ctx, *netArg)
		if err != nil {
			return nil, err
		}
		for _, n := range envelope.Network.Networks {
			params.NetworkMapping = append(params.NetworkMapping, types.OvfNetworkMapping{Name: n.Name, Network: network.Reference()})
		}
	}

	spec, err := ovf.NewManager(e.session.client).CreateImportSpec(ctx, string(descriptor), pool, ds, params)
	if err != nil {
		return nil, err
	}
	if len(spec.Error) > 0 {
		return nil, refusal(spec.Error)
	}
	lease, err := pool.ImportVApp(ctx, spec.ImportSpec, folder, host)
	if err != nil {
		return nil, err
	}
	info, err := lease.Wait(ctx, spec.FileItem)
	if err != nil {
		return nil, err
	}
	files, err := upload(ctx, lease, info, archive, manifest)
	if err != nil {
		// vCenter removes the half-made VM when its lease is aborted.
		_ = lease.Abort(ctx, &types.LocalizedMethodFault{Fault: &types.SystemError{Reason: err.Error()}, LocalizedMessage: err.Error()})
		return nil, err
	}
	if err := lease.Complete(ctx); err != nil {
		return nil, err
	}
	warnings := []string{}
	for _, w := range spec.Warning {
		warnings = append(warnings, w.LocalizedMessage)
	}
	return map[string]interface{}{
		"vm": morefString(info.Entity), "lease": morefString(lease.Reference()), "files": files, "warnings": warnings,
		"manifest": len(manifest) > 0,
	}, nil
}

// upload sends each file the lease asks for, hashing it on the way to check it against the
// manifest. The lease updater reports progress meanwhile, so vCenter does not time the lease out
// during a long upload.
func upload(ctx context.Context, lease *nfc.Lease, info *nfc.LeaseInfo, archive ova, manifest map[string]digest) ([]interface{}, error) {
	updater := lease.StartUpdater(ctx, info)
	defer updater.Done()
	files := []interface{}{}
	for _, item := range info.Items {
		name := path.Clean(item.Path)
		r, size, err := archive.open(name)
		if err != nil {
			return nil, err
		}
		h := newHash(manifest[name].algorithm)
		err = lease.Upload(ctx, item, io.TeeReader(r, h), soap.Upload{ContentLength: size})
		_ = r.Close()
		if err != nil {
			return nil, fmt.Errorf("uploading %s to %s: %w", name, item.URL.Path, err)
		}
		check, err := checkDigest(manifest, name, h)
		if err != nil {
			return nil, err
		}
		files = append(files, map[string]interface{}{"path": name, "bytes": size, "manifest": check})
	}
	return files, nil
}
