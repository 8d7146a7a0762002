package train

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/distributed"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/core/tensors/dtensor"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/tunelab/tunelab/lab/backend"
)

// meshAxis names the one axis of the data-parallel device mesh: the batch's rows.
const meshAxis = "data"

// devicesSpec is a parsed Config.Devices: all, the first count devices, or a list of them.
type devicesSpec struct {
	all   bool
	count int
	list  []int
}

// parseDevices parses Config.Devices: "" (the default), "all", a count "N" or a list "0,2".
func parseDevices(spec string) (devicesSpec, error) {
	switch spec = strings.TrimSpace(spec); {
	case spec == "":
		return devicesSpec{}, nil
	case spec == "all":
		return devicesSpec{all: true}, nil
	case !strings.Contains(spec, ","):
		n, err := strconv.Atoi(spec)
		if err != nil || n < 1 {
			return devicesSpec{}, fmt.Errorf("devices %q: want all, a count >= 1, or a comma-separated list of device numbers (0,1)", spec)
		}
		return devicesSpec{count: n}, nil
	}
	var list []int
	for _, field := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || n < 0 {
			return devicesSpec{}, fmt.Errorf("devices %q: %q is not a device number (0, 1, ...)", spec, field)
		}
		if slices.Contains(list, n) {
			return devicesSpec{}, fmt.Errorf("devices %q: device %d is listed twice", spec, n)
		}
		list = append(list, n)
	}
	return devicesSpec{list: list}, nil
}

// Devices returns the devices of b that Config.Devices spec names, in order. The default ("")
// is every device on an accelerator (XLA's CUDA plugin, ...), as transformers' Trainer does, and
// one device on the CPU: XLA's CPU plugin shows several devices that share the same cores, so
// splitting a batch across them adds work without adding hardware.
func Devices(spec string, b compute.Backend) ([]compute.DeviceNum, error) {
	s, err := parseDevices(spec)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	available := b.NumDevices()
	switch {
	case s.list != nil:
		devices := make([]compute.DeviceNum, len(s.list))
		for i, n := range s.list {
			if n >= available {
				return nil, fmt.Errorf("train: devices %q: there is no device %d on %s, which has devices 0 to %d", spec, n, b.String(), available-1)
			}
			devices[i] = compute.DeviceNum(n)
		}
		return devices, nil
	case s.count > available && available == 1:
		return nil, fmt.Errorf("train: devices %q: %s has only one device", spec, b.String())
	case s.count > available:
		return nil, fmt.Errorf("train: devices %q: %s has only %d devices", spec, b.String(), available)
	case s.count > 0:
		return firstDevices(s.count), nil
	case s.all || backend.Accelerated(b):
		return firstDevices(available), nil
	}
	return firstDevices(1), nil
}

func firstDevices(n int) []compute.DeviceNum {
	devices := make([]compute.DeviceNum, n)
	for i := range devices {
		devices[i] = compute.DeviceNum(i)
	}
	return devices
}

// DescribeDevices says in a few words which of b's devices a job uses: "device 0 (1 of 4)" or
// "4 devices (0, 1, 2, 3 of 4), data parallel".
func DescribeDevices(devices []compute.DeviceNum, b compute.Backend) string {
	if len(devices) == 1 {
		return fmt.Sprintf("device %d (1 of %d)", devices[0], b.NumDevices())
	}
	ids := make([]string, len(devices))
	for i, d := range devices {
		ids[i] = strconv.Itoa(int(d))
	}
	return fmt.Sprintf("%d devices (%s of %d), data parallel", len(devices), strings.Join(ids, ", "), b.NumDevices())
}

// dataParallel is the device mesh of a data-parallel trainer: the batch rows split along its
// axis, the variables and scalars replicated.
type dataParallel struct {
	devices    []compute.DeviceNum
	mesh       *distributed.DeviceMesh
	rows, repl *distributed.ShardingSpec
}

func newDataParallel(devices []compute.DeviceNum) (*dataParallel, error) {
	mesh, err := distributed.NewDeviceMesh([]int{len(devices)}, []string{meshAxis})
	if err != nil {
		return nil, err
	}
	rows, err := distributed.BuildSpec(mesh).S(meshAxis).Done()
	if err != nil {
		return nil, err
	}
	return &dataParallel{devices: devices, mesh: mesh, rows: rows, repl: distributed.NewReplicatedShardingSpec(mesh)}, nil
}

// replicate gives every variable of store p's replicated sharding spec, so that each device
// holds a copy. Done explicitly because GoMLX v0.28.8 creates the RNG state variable without
// its store, and its first distributed graph then dereferences that nil store; and because
// variables split for another set of devices (an earlier trainer on the same store) keep that
// mesh's spec, which p's graphs do not know: their value is merged back to one first.
func (p *dataParallel) replicate(store *model.Store) error {
	for v := range store.IterVariables() {
		if v.HasValue() {
			value, err := v.Value()
			if err != nil {
				return err
			}
			if err := v.SetValuePreservingOld(value); err != nil {
				return err
			}
		}
		if err := v.SetShardingSpec(p.repl); err != nil {
			return err
		}
	}
	return nil
}

// spec is how an input of rank is split: by rows, or replicated for a scalar.
func (p *dataParallel) spec(rank int) *distributed.ShardingSpec {
	if rank == 0 {
		return p.repl
	}
	return p.rows
}

// newExec returns a model.Exec of fn on store and b, taking inputs of the given ranks (see
// dataParallel.args). When p is not nil (data parallel), fn's graph is of the global batch and GoMLX's AutoSharding
// (XLA's Shardy partitioner) runs it on every device with the inputs split by rows and the
// variables replicated: the partitioned program computes what the one-device program does,
// summing the devices' partial results (an all-reduce) where the graph reduces over rows, as
// for the gradients. The outputs are replicated, or with rowOutputs all split by rows like the
// inputs (for an evaluation graph, which changes no variable: model.Exec adds the changed
// variables to the outputs).
//
// GoMLX's SPMD strategy (explicit Distributed().AllReduce) fails on XLA in GoMLX v0.28.8 with
// go-xla v0.4.5: model.Exec gives the variables a replicated sharding spec, which the XLA
// builder rejects outside AutoSharding ("mesh not found").
func newExec[F model.ExecGraphFn](b compute.Backend, store *model.Store, p *dataParallel, fn F, rowOutputs bool, inputRanks ...int) (*model.Exec, error) {
	e, err := model.NewExec(b, store, fn)
	if err != nil || p == nil {
		return e, err
	}
	inputs := make([]*distributed.ShardingSpec, len(inputRanks))
	for i, rank := range inputRanks {
		inputs[i] = p.spec(rank)
	}
	outputs := p.repl
	if rowOutputs {
		outputs = p.rows
	}
	return e.AutoSharding(p.mesh).WithDeviceAssignment(p.devices).
		WithInputShardingSpecs(inputs...).WithOutputShardingSpecs(outputs), nil
}

// args returns the arguments of an exec made by newExec: inputs as they are on one device (p
// nil); on several, each split by rows (its first axis, whose size the number of devices
// divides) or replicated when a scalar.
func (p *dataParallel) args(inputs ...*tensors.Tensor) ([]any, error) {
	args := make([]any, len(inputs))
	for i, in := range inputs {
		if p == nil {
			args[i] = in
			continue
		}
		d, err := dtensor.ShardTensor(p.spec(in.Rank()), in)
		if err != nil {
			return nil, fmt.Errorf("train: input %d %s across %d devices: %w", i, in.Shape(), p.mesh.NumDevices(), err)
		}
		args[i] = d
	}
	return args, nil
}

// padRows rounds n rows up to a multiple of the number of devices, which split them evenly.
func (p *dataParallel) padRows(n int) int {
	if p == nil {
		return n
	}
	devices := p.mesh.NumDevices()
	return (n + devices - 1) / devices * devices
}
