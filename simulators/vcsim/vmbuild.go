package main

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// createVMs makes count VMs in a "Workloads" folder, spread over pools in turn, three in four
// powered on. They are made by the simulator's own Folder.CreateVM_Task and PowerOnVM_Task, as a
// client's calls would make them, but on every core: the simulator's dispatcher locks the folder
// for the whole of a CreateVM_Task call, so calls into one folder run one at a time; called
// directly, the simulator still locks the folder where it changes it (its list of children) and
// each object it touches, as it does for concurrent calls into different folders. A VM costs the
// simulator about 0.6 ms of CPU (its devices, files and storage layout), the bulk of the build at
// 40,000 VMs.
func (b *builder) createVMs(vmFolder *object.Folder, pools []*object.ResourcePool, dcName string, count int) error {
	if count == 0 || len(pools) == 0 {
		return nil
	}
	made, err := vmFolder.CreateFolder(b.ctx, "Workloads")
	if err != nil {
		return err
	}
	folder := simulator.Map.Get(made.Reference()).(*simulator.Folder)
	err = inParallel(count, func(i int) error {
		name := fmt.Sprintf("%s-vm-%05d", dcName, i+1)
		if err := b.createVM(folder, b.vmSpec(name, "vio-shared-nfs"), pools[i%len(pools)].Reference(), i%4 != 3); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	b.count("vms", count)
	b.phase("vms", count)
	return nil
}

// createVM makes one VM through the simulator's CreateVM_Task, and powers it on if asked.
func (b *builder) createVM(folder *simulator.Folder, spec types.VirtualMachineConfigSpec, pool types.ManagedObjectReference, powerOn bool) error {
	ctx := &simulator.Context{Context: b.ctx, Session: b.session, Map: simulator.Map}
	result, fault := outcome(folder.CreateVMTask(ctx, &types.CreateVM_Task{This: folder.Self, Config: spec, Pool: pool}))
	if fault != nil {
		return fmt.Errorf("%s", localizedMessage(fault))
	}
	ref := result.(types.ManagedObjectReference)
	vm := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	if !powerOn {
		return nil
	}
	caller := ref // the VM is locked by this call, as the dispatcher locks it
	ctx.Caller = &caller
	simulator.Map.WithLock(vm, func() {
		_, fault = outcome(vm.PowerOnVMTask(ctx, &types.PowerOnVM_Task{This: ref}))
	})
	if fault != nil {
		return fmt.Errorf("power on: %s", localizedMessage(fault))
	}
	return nil
}

// inParallel runs do(0..n-1) on as many goroutines as there are cores, and stops at the first error.
func inParallel(n int, do func(i int) error) error {
	workers := runtime.NumCPU()
	if workers > n {
		workers = n
	}
	var mu sync.Mutex
	var first error
	failed := func() bool { mu.Lock(); defer mu.Unlock(); return first != nil }
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n && !failed(); i += workers {
				if err := do(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}(w)
	}
	wg.Wait()
	return first
}
